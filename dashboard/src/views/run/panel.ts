/**
 * The run page is a list of panels (run.ts: PANELS). Each owns its element and patches it when
 * the run or its event log changes; none re-renders the page. A new panel is one file here and
 * one line in that list.
 */
import type { RunView, WireEvent } from "../../../../schema/api";
import type { Api } from "../../api";
import { h } from "../../dom";

export interface RunContext {
  api: Api;
  runId: string;
  navigate(hash: string): void;
  announce(message: string): void;
  /** The run's event log so far, in order; the page appends to it before telling the panels. */
  readonly events: readonly WireEvent[];
  /** Reads the run again and updates every panel (with the artifacts too when asked). */
  refresh(opts?: { artifacts?: boolean }): Promise<void>;
  /** Moves focus to the page's heading (after a control that disappears, such as a gate's Approve). */
  focusHeading(): void;
}

export interface RunUpdate {
  /** Whether the run's artifacts may have changed (an artifact.created event, or the first load). */
  artifacts: boolean;
}

export interface RunPanel {
  el: HTMLElement;
  /** The run as the API has it now: patch what changed. */
  update?(run: RunView, change: RunUpdate): void | Promise<void>;
  /** Events appended to the log, from the first read or the live stream. */
  events?(batch: readonly WireEvent[]): void;
  /** Whether the page follows the run's live stream. */
  live?(following: boolean): void;
  dispose?(): void;
}

export type RunPanelFactory = (ctx: RunContext) => RunPanel;

/** A titled panel: `<section>` with an `<h2>` and a body, and an optional note beside the title. */
export function section(title: string, body: HTMLElement, note?: HTMLElement): HTMLElement {
  return h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h2", {}, title), note ?? null), body);
}
