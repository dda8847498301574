/** The shapes of run every benchmark system executes, and how the peers' HTTP bodies name them. */
export type Shape = { kind: "chain"; steps: number } | { kind: "fan"; width: number };

/** A chain's steps, or a fan-out's root + `width` branches + the fan-in. */
export const stepCount = (shape: Shape): number => (shape.kind === "chain" ? shape.steps : shape.width + 2);

export function parseShape(body: unknown): Shape | null {
  const b = body as Partial<{ kind: string; steps: number; width: number }> | null;
  if (b?.kind === "chain" && Number.isInteger(b.steps) && b.steps! >= 1 && b.steps! <= 1000)
    return { kind: "chain", steps: b.steps! };
  if (b?.kind === "fan" && Number.isInteger(b.width) && b.width! >= 1 && b.width! <= 1000)
    return { kind: "fan", width: b.width! };
  return null;
}
