// The command strings the manager sends (src/mac/PROTOCOL.md, "Transport"): split into words the
// way a POSIX shell would for the quoting the protocol uses, and recognised as one of the two forms
//   stdin form   /bin/bash -s -- '<arg1>' '<arg2>' ...      (script on stdin)
//   secret form  /bin/bash -c '<script>' pw-pool '<arg1>' ... (secret on stdin)

/** Single-quotes a word for a POSIX shell (`'` becomes `'\''`). */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export class ShellSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellSyntaxError';
  }
}

/**
 * Splits a command line into words: blanks separate words; single quotes keep everything
 * literally; double quotes keep everything but `\"`, `\\`, `\$` and `` \` ``; a backslash outside
 * quotes escapes the next character. Expansions (`$x`, globs, `;`) are not interpreted: the
 * protocol never sends them unquoted, and such a command is simply not recognised.
 */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ShellSyntaxError('unterminated single quote');
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new ShellSyntaxError('unterminated double quote');
        const d = line[i] as string;
        if (d === '"') break;
        const next = line[i + 1];
        if (d === '\\' && next !== undefined && '"\\$`'.includes(next)) {
          word += next;
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      inWord = true;
      i++;
    } else if (c === '\\') {
      const next = line[i + 1];
      if (next === undefined) throw new ShellSyntaxError('trailing backslash');
      if (next !== '\n') word += next;
      inWord = true;
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

export type BashCommand =
  | { form: 'stdin'; args: string[] }
  | { form: 'secret'; script: string; arg0: string; args: string[] };

/** Recognises the protocol's two command forms; undefined for anything else. */
export function parseBashCommand(command: string): BashCommand | undefined {
  let words: string[];
  try {
    words = splitShellWords(command);
  } catch {
    return undefined;
  }
  if (words[0] !== '/bin/bash') return undefined;
  if (words[1] === '-s') {
    const rest = words.slice(2);
    return { form: 'stdin', args: rest[0] === '--' ? rest.slice(1) : rest };
  }
  if (words[1] === '-c' && words[2] !== undefined) {
    return { form: 'secret', script: words[2], arg0: words[3] ?? 'bash', args: words.slice(4) };
  }
  return undefined;
}

const OP_MARKER = /^# pw-pool-op: ([a-z-]+)$/m;

/** The operation a script text names with its `# pw-pool-op: <op>` line. */
export function scriptOperation(script: string): string | undefined {
  return OP_MARKER.exec(script)?.[1];
}
