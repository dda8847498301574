import type { Api } from "../api";

export interface ViewContext {
  api: Api;
  /** The page's content area, owned by the view until it is disposed. */
  main: HTMLElement;
  navigate(hash: string): void;
  /** Names the page in the document title once the view knows more (a run's id and project). */
  setTitle(...parts: string[]): void;
  /** Reads a message out through the page's polite live region (a decision taken, a run retried). */
  announce(message: string): void;
}

/** Renders a page into ctx.main; returns what stops its timers, streams and charts. */
export type View = (ctx: ViewContext, params: string[]) => () => void;
