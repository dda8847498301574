import type { Api } from "../api";

export interface ViewContext {
  api: Api;
  /** The page's content area, owned by the view until it is disposed. */
  main: HTMLElement;
  navigate(hash: string): void;
}

/** Renders a page into ctx.main; returns what stops its timers, streams and charts. */
export type View = (ctx: ViewContext, params: string[]) => () => void;
