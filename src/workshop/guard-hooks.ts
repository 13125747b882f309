/**
 * Module resolve hooks for guard.ts (they run on Node's loader thread).
 */
import type { GuardData } from './guard.js';

let data: GuardData | undefined;

export function initialize(d: GuardData): void {
  data = d;
}

interface ResolveContext {
  parentURL?: string;
}
interface ResolveResult {
  url: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<ResolveResult>;

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<ResolveResult> {
  const result = await next(specifier, context);
  if (!data) return result;
  const url = result.url.split('?')[0]!;
  const parent = context.parentURL?.split('?')[0] ?? '';
  const inside = (dirs: string[], u: string): boolean => dirs.some((d) => u.startsWith(d));
  const fromLearner = inside(data.learner, parent);
  if (inside(data.sealed, url) || (fromLearner && inside(data.forbidden, url))) {
    const short = (u: string): string => (u.startsWith(data!.root) ? u.slice(data!.root.length) : u);
    throw new Error(
      `[cellblock-guard] ${parent ? short(parent) : 'a module'} imports ${short(url)}: ` +
        'the reference solution cannot be used by a lesson that is being graded',
    );
  }
  return result;
}
