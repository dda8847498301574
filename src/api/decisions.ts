/**
 * /v1/decisions/{token}: signed single-use decision links (src/lib/decision-links.ts), for people
 * without an API key (a link in a mail, a chat message, a webhook receiver). `GET` only shows what
 * the link would do and a button, so a mail client's link scanner decides nothing; `POST` decides.
 * No API key: the token is the credential, bound to its tenant, run, step, decision and expiry.
 */
import { httpRequest } from "./http-span";
import { createRoute, z } from "@hono/zod-openapi";
import { DecisionView } from "../../schema/api";
import { RUN_ID } from "../../schema/ids";
import { readLink, type LinkClaims } from "../lib/decision-links";
import { runStub } from "../control/run/stub";
import { AppError } from "../errors";
import type { Env } from "../env";
import { newApi, problemResponses } from "./common";

const TokenParam = z.object({
  token: z
    .string()
    .max(2048)
    .openapi({ param: { name: "token", in: "path" }, description: "the signed token of an approveUrl or rejectUrl" }),
});

/** The link's claims, or the refusal a bad or old link gets. Changes nothing. */
function claimsOf(env: Env, token: string): LinkClaims {
  const claims = env.DECISION_LINK_SECRET ? readLink(env.DECISION_LINK_SECRET, token) : null;
  if (!claims || !RUN_ID.test(claims.runId)) throw new AppError("approval.link_invalid");
  if (claims.expiresAt <= Date.now()) throw new AppError("approval.link_expired");
  return claims;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title></head><body style="font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem">
${body}</body></html>`;
}

const HTML_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  // The page has no script and posts only to itself.
  "content-security-policy": "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
};

export const decisions = newApi();

decisions.openapi(
  createRoute({
    method: "get",
    operationId: "getDecisionLink",
    path: "/{token}",
    security: [], // the link's signed token is its credential
    summary: "A decision link's confirmation page: what it would decide, and a button that does (POST)",
    request: { params: TokenParam },
    responses: {
      200: { description: "the confirmation page", content: { "text/html": { schema: z.string() } } },
      ...problemResponses("request.invalid", "approval.link_invalid", "approval.link_expired"),
    },
  }),
  (c) => {
    const claims = claimsOf(c.env, c.req.valid("param").token);
    const verb = claims.decision === "approve" ? "Approve" : "Reject";
    const html = page(
      `${verb} ${claims.stepId}?`,
      `<h1>${verb} <code>${escapeHtml(claims.stepId)}</code>?</h1>
<p>Run <code>${escapeHtml(claims.runId)}</code>. This link works once, until ${new Date(claims.expiresAt).toISOString()}.</p>
<form method="post"><button type="submit">${verb}</button></form>`,
    );
    return c.body(html, 200, HTML_HEADERS);
  },
);

decisions.openapi(
  createRoute({
    method: "post",
    operationId: "redeemDecisionLink",
    path: "/{token}",
    security: [], // the link's signed token is its credential
    summary: "Redeem a decision link: approves or rejects its gate, once",
    description:
      "A used link answers 409 approval.link_used; an expired one 410 approval.link_expired; a tampered one " +
      "404 approval.link_invalid. None of them decides anything.",
    request: { params: TokenParam },
    responses: {
      200: {
        description: "the decision: JSON, or a short page for a browser's form post (Accept: text/html)",
        content: { "application/json": { schema: DecisionView }, "text/html": { schema: z.string() } },
      },
      ...problemResponses(
        "request.invalid",
        "request.too_large",
        "approval.link_invalid",
        "approval.link_expired",
        "approval.link_used",
        "approval.already_decided",
        "approval.not_pending",
        "approval.not_found",
      ),
    },
  }),
  async (c) => {
    const claims = claimsOf(c.env, c.req.valid("param").token);
    const result = await runStub(c.env, claims.runId).redeemLink(claims, httpRequest(c, "/v1/decisions/{token}", 200));
    // Signed for another tenant's run (or a run that is gone): nothing to decide here.
    if (!result) throw new AppError("approval.link_invalid");
    if (!result.ok) throw AppError.from(result);
    c.set("auditNote", {
      tenantId: claims.tenantId,
      action: claims.decision === "approve" ? "gate.approve" : "gate.reject",
      actor: `link:${claims.linkId}`,
      target: `run:${claims.runId}/${claims.stepId}`,
    });
    if (c.req.header("accept")?.includes("text/html")) {
      const done = result.decision.decision === "approved" ? "Approved" : "Rejected";
      return c.body(page(done, `<h1>${done}.</h1><p>Thank you.</p>`), 200, HTML_HEADERS);
    }
    return c.json(result.decision, 200);
  },
);
