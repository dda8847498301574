// Renders /openapi.json with Scalar's standalone bundle (loaded just before this file). A file of
// its own, not an inline script, so the page's CSP keeps script-src 'self'. Everything that would
// reach another origin is off: the hosted fonts, the request proxy, telemetry.
globalThis.Scalar.createApiReference("#api-reference", {
  url: "/openapi.json",
  withDefaultFonts: false,
  telemetry: false,
  hideClientButton: true,
  showDeveloperTools: "never",
  agent: { disabled: true },
  mcp: { disabled: true },
  servers: [{ url: location.origin, description: "This runtime" }],
});
