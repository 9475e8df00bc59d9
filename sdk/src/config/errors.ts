/** A validation problem, located by its path into the config. */
export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `events["order.shipped"].channels[1].audience` */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (IDENT.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out === '' ? '(config)' : out;
}

export function formatIssue(issue: ConfigIssue): string {
  return `${formatPath(issue.path)}: ${issue.message}`;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], file?: string) {
    const head = `${file ? `${file}: ` : ''}${issues.length} problem${issues.length === 1 ? '' : 's'} in the dispatch config`;
    super(`${head}\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Levenshtein distance, bounded work (names are short). */
export function distance(a: string, b: string): number {
  const al = a.length;
  const bl = b.length;
  if (al === 0) return bl;
  if (bl === 0) return al;
  let prev = Array.from({ length: bl + 1 }, (_, j) => j);
  let prevPrev = prev;
  for (let i = 1; i <= al; i++) {
    const cur = [i];
    for (let j = 1; j <= bl; j++) {
      const cost = a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      // Optimal string alignment: a swap of two neighbours counts once ("emial" → "email").
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        cur[j] = Math.min(cur[j], prevPrev[j - 2] + 1);
      }
    }
    prevPrev = prev;
    prev = cur;
  }
  return prev[bl];
}

/** The closest candidate, when it is close enough to be a plausible typo. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of [...candidates].sort()) {
    const d = distance(name, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(name.length, best.length) / 3));
  return bestD <= limit ? best : undefined;
}

/** `unknown audience "sellr" — did you mean "seller"?` (or the list of known names). */
export function unknownName(kind: string, name: string, known: Iterable<string>): string {
  const list = [...known].sort();
  const guess = didYouMean(name, list);
  if (guess) return `unknown ${kind} "${name}" — did you mean "${guess}"?`;
  if (list.length === 0) return `unknown ${kind} "${name}" (none are declared)`;
  return `unknown ${kind} "${name}" (declared: ${list.map((n) => `"${n}"`).join(', ')})`;
}
