import { gzipSync, strToU8 } from "fflate";
import { describe, expect, it } from "vitest";
import type { WireEvent } from "../../schema/api";
import { RETENTION_DEFAULTS } from "../../schema/retention";
import {
  archivedEvents,
  archivedRun,
  decodeArchive,
  encodeArchive,
  runRetention,
  sha256Hex,
  type RunArchive,
} from "../../src/control/run/archive-format";

const event = (seq: number): WireEvent => ({
  eventId: `evt_x_${seq}`,
  seq,
  type: "step.succeeded",
  tenantId: "t",
  projectId: "p",
  runId: "run_x",
  traceId: "tr",
  occurredAt: new Date(seq * 1000).toISOString(),
  data: {},
});

const archive: RunArchive = {
  format: 1,
  tenantId: "t",
  archivedAt: Date.UTC(2026, 0, 8),
  retention: { hotMs: 1, archiveMs: 2, unpublishedMs: 3 },
  run: {
    id: "run_x",
    project: "p",
    blueprint: null,
    tags: [],
    metadata: {},
    requestedBy: null,
    status: "succeeded",
    traceId: "tr",
    origin: { kind: "api", id: null },
    createdAt: new Date(0).toISOString(),
    startedAt: null,
    finishedAt: null,
    deadlineAt: null,
    failurePolicy: "fail-fast",
    priority: "normal",
    retryOf: null,
    retriedAs: null,
    error: null,
    archivedAt: null,
    steps: [],
  },
  events: [1, 2, 3, 4, 5].map(event),
  usage: {
    usage: { pools: {} } as unknown as RunArchive["usage"]["usage"],
    final: true,
    waitingMs: 0,
  },
  artifacts: [],
  gates: {},
};

describe("a run's archive", () => {
  it("round-trips, and the same archive always encodes to the same bytes (a rewrite after a crash is identical)", async () => {
    const a = await encodeArchive(archive);
    const b = await encodeArchive(structuredClone(archive));
    expect(b.bytes).toEqual(a.bytes);
    expect(a.sha256).toBe(await sha256Hex(a.bytes));
    expect(decodeArchive(a.bytes)).toEqual(archive);
  });

  it("refuses a document of an unknown format, and bytes that are not gzip", () => {
    expect(() => decodeArchive(gzipSync(strToU8(JSON.stringify({ ...archive, format: 2 }))))).toThrow(/format 2/);
    expect(() => decodeArchive(strToU8("{}"))).toThrow();
  });

  it("pages events as the run's object does: nextAfter only on a full page, the last page final", () => {
    expect(archivedEvents(archive, 0, 2)).toEqual({ items: [event(1), event(2)], nextAfter: 2, finished: false });
    expect(archivedEvents(archive, 4, 2)).toEqual({ items: [event(5)], nextAfter: null, finished: true });
    expect(archivedEvents(archive, 5, 2)).toEqual({ items: [], nextAfter: null, finished: true });
    // A full last page is not known to be last: the next (empty) one says so, as the object's does.
    expect(archivedEvents(archive, 3, 2)).toEqual({ items: [event(4), event(5)], nextAfter: 5, finished: false });
  });

  it("shows the run with when it was archived", () => {
    expect(archivedRun(archive)).toEqual({ ...archive.run, archivedAt: "2026-01-08T00:00:00.000Z" });
  });

  it("a run's retention: its own, or the defaults in milliseconds", () => {
    expect(runRetention({ retention: JSON.stringify({ hotMs: 5, archiveMs: 6, unpublishedMs: 7 }) })).toEqual({
      hotMs: 5,
      archiveMs: 6,
      unpublishedMs: 7,
    });
    expect(runRetention({ retention: null })).toEqual({
      hotMs: RETENTION_DEFAULTS.runHotSeconds * 1000,
      archiveMs: RETENTION_DEFAULTS.archiveSeconds * 1000,
      unpublishedMs: RETENTION_DEFAULTS.unpublishedArtifactSeconds * 1000,
    });
  });
});
