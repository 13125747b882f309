/**
 * Skip a test because the machine lacks something — and say so in the output
 * (the reporter prints the reason under the test), never silently.
 */
export function skipBecause(ctx: Mocha.Context, reason: string): never {
  if (ctx.test) (ctx.test as Mocha.Test & { skipReason?: string }).skipReason = reason;
  ctx.skip();
}
