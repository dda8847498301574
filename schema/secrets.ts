/** Contracts of tenant secrets: their names, the write-only value, the list view, the `$secret` reference. */
import { z } from "@hono/zod-openapi";

/** A secret's name: lowercase, digits, `-`, `_`, `.`; it appears in step inputs as `{ "$secret": name }`. */
export const SECRET_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const SecretName = z.string().regex(SECRET_NAME, "lowercase letters, digits, '.', '_' or '-', at most 64");

/** The largest value a secret may hold, in UTF-8 bytes (a PAT, a key, a small certificate). */
export const SECRET_MAX_BYTES = 16 * 1024;

export const PutSecretBody = z
  .object({
    value: z
      .string()
      .min(1)
      .refine((v) => new TextEncoder().encode(v).byteLength <= SECRET_MAX_BYTES, {
        message: `at most ${SECRET_MAX_BYTES} bytes`,
      })
      .openapi({ description: "write-only: never returned, logged or stored in clear", example: "<your PAT>" }),
  })
  .strict()
  .openapi("PutSecretBody");

export const SecretView = z
  .object({
    name: SecretName,
    createdAt: z.string(),
    updatedAt: z.string(),
    lastUsedAt: z.string().nullable().openapi({ description: "when a step last resolved it" }),
  })
  .openapi("Secret");
export type SecretView = z.infer<typeof SecretView>;

/** A reference to a tenant secret inside a step's input; the consumer resolves it after `begin`. */
export const SecretRef = z.object({ $secret: SecretName }).strict().openapi("SecretRef");
export type SecretRef = z.infer<typeof SecretRef>;

/** A secret as the Secrets object stores it: AES-GCM ciphertext and its IV, base64. */
export interface SealedSecret {
  name: string;
  iv: string;
  ciphertext: string;
}
