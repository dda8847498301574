/**
 * Planted secrets for the `system.secrets` fixture: one of each rule family the scan must catch.
 * The values are built at run time from a seeded generator, so no credential-shaped literal sits
 * in this repository (and none of them is real).
 */
function random(seed: number, length: number, alphabet: string): string {
  let x = seed >>> 0 || 1;
  let out = "";
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out += alphabet[(x >>> 0) % alphabet.length];
  }
  return out;
}

const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE64 = `${ALNUM}+/`;

export interface Planted {
  /** The rule id that must report it. */
  ruleId: string;
  /** The file (inside the zip) that holds it. */
  file: string;
  /** The secret's value: it must never appear in any event, log or answer. */
  secret: string;
  content: string;
}

const pem = (kind: string) => `-----BEGIN ${kind} PRIVATE KEY-----`;
const pemEnd = (kind: string) => `-----END ${kind} PRIVATE KEY-----`;

/** One planted secret per rule family, with the file content around it. */
export function plantedSecrets(): Planted[] {
  const aws = ["AK", "IA", random(11, 16, UPPER)].join("");
  const github = ["gh", "p_", random(12, 36, ALNUM)].join("");
  const slack = [
    "xo",
    "xb-",
    random(13, 12, "0123456789"),
    "-",
    random(14, 13, "0123456789"),
    "-",
    random(15, 24, ALNUM),
  ].join("");
  const npm = ["np", "m_", random(16, 36, ALNUM)].join("");
  const anthropic = ["sk-", "ant-", "api03-", random(17, 93, ALNUM), "AA"].join("");
  const dbPassword = random(18, 16, ALNUM);
  const database = `postgres://app:${dbPassword}@db.acme-internal.com:5432/billing`;
  const basicPassword = random(19, 14, ALNUM);
  const basic = `https://deploy:${basicPassword}@artifacts.acme-internal.com`;
  const keyBody = `MII${random(20, 253, BASE64)}`;
  const privateKey = [pem("RSA"), ...(keyBody.match(/.{1,64}/g) ?? []), pemEnd("RSA")].join("\n");
  const entropic = random(21, 24, ALNUM);
  return [
    {
      ruleId: "@secretlint/secretlint-rule-aws",
      file: "config/aws.env",
      secret: aws,
      content: `# deploy settings\nREGION=eu-west-1\nAWS_ACCESS_KEY_ID=${aws}\n`,
    },
    {
      ruleId: "@secretlint/secretlint-rule-github",
      file: "scripts/release.sh",
      secret: github,
      content: `#!/bin/sh\nset -e\n\ngh auth login --with-token <<< "${github}"\n`,
    },
    {
      ruleId: "@secretlint/secretlint-rule-slack",
      file: "src/notify.ts",
      secret: slack,
      content: `export const channel = "#deploys";\nconst token = "${slack}";\nexport default token;\n`,
    },
    {
      ruleId: "@secretlint/secretlint-rule-npm",
      file: ".npmrc",
      secret: npm,
      content: `registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=${npm}\n`,
    },
    {
      ruleId: "@secretlint/secretlint-rule-anthropic",
      file: "src/model.ts",
      secret: anthropic,
      content: `export const model = "claude";\nexport const key = "${anthropic}";\n`,
    },
    {
      ruleId: "@secretlint/secretlint-rule-database-connection-string",
      file: "config/database.yml",
      secret: dbPassword,
      content: `production:\n  url: ${database}\n`,
    },
    {
      ruleId: "@secretlint/secretlint-rule-basicauth",
      file: "docs/deploy.md",
      secret: basicPassword,
      content: `# Deploy\n\nUpload with \`curl -T build.tgz ${basic}/builds/\`.\n`,
    },
    {
      ruleId: "@secretlint/secretlint-rule-privatekey",
      file: "certs/server.key",
      secret: keyBody,
      content: `${privateKey}\n`,
    },
    {
      ruleId: "factory/high-entropy-assignment",
      file: "src/settings.py",
      secret: entropic,
      content: `DEBUG = False\nSMTP_PASSWORD = "${entropic}"\n`,
    },
  ];
}
