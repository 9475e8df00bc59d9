/** Formats for `status -o`: the same three `supabase status` offers. */
export type OutputFormat = 'pretty' | 'env' | 'json';

export function formatVariables(vars: Record<string, string>, format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(vars, null, 2)}\n`;
  if (format === 'env') {
    return Object.entries(vars)
      .map(([key, value]) => `${key}="${value.replace(/(["\\$`])/g, '\\$1')}"`)
      .join('\n')
      .concat('\n');
  }
  const width = Math.max(...Object.keys(vars).map((k) => k.length));
  return Object.entries(vars)
    .map(([key, value]) => `${key.padStart(width)}: ${value}`)
    .join('\n')
    .concat('\n');
}
