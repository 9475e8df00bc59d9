/** One line per event, prefixed with time and service, so the stack log reads like `supabase start`'s. */
export type Logger = (service: string, message: string, extra?: unknown) => void;

export function createLogger(write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  return (service, message, extra) => {
    const time = new Date().toISOString();
    let line = `${time} [${service}] ${message}`;
    if (extra instanceof Error) line += `\n${extra.stack ?? extra.message}`;
    else if (extra !== undefined) line += ` ${JSON.stringify(extra)}`;
    write(`${line}\n`);
  };
}
