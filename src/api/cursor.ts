/** Opaque list cursors: base64url of the last row's sort key. */
import { z } from "zod";

const Cursor = z.object({ createdAt: z.number().int(), runId: z.string().max(64) }).strict();
export type Cursor = z.infer<typeof Cursor>;

/** The approvals list's: when the gate was requested (pending) or decided, and which gate. */
const ApprovalCursor = z
  .object({ at: z.number().int(), runId: z.string().max(64), stepId: z.string().max(64) })
  .strict();
export type ApprovalCursor = z.infer<typeof ApprovalCursor>;

const encode = (value: object): string =>
  btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

function decode<T>(schema: z.ZodType<T>, text: string): T | null {
  try {
    const parsed = schema.safeParse(JSON.parse(atob(text.replaceAll("-", "+").replaceAll("_", "/"))));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export const encodeCursor = (cursor: Cursor): string => encode(cursor);

/** The cursor, or null when the text is not one we issued. */
export const decodeCursor = (text: string): Cursor | null => decode(Cursor, text);

export const encodeApprovalCursor = (cursor: ApprovalCursor): string => encode(cursor);

/** An approvals page's cursor, or null when the text is not one we issued. */
export const decodeApprovalCursor = (text: string): ApprovalCursor | null => decode(ApprovalCursor, text);
