// POSIX extended regular expressions (what `grep -E` and `pgrep -f` take) translated to JavaScript
// RegExps, so the simulated Mac counts and matches with the patterns the manager sends. Only
// whether a line matches matters, so POSIX's leftmost-longest rule makes no difference.

const CLASSES: Readonly<Record<string, string>> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: '0-9A-Za-z',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  print: ' -~',
  graph: '!-~',
  cntrl: '\\x00-\\x1f\\x7f',
  xdigit: '0-9A-Fa-f',
};

export class EreSyntaxError extends Error {
  constructor(pattern: string, reason: string) {
    super(`invalid extended regular expression '${pattern}': ${reason}`);
    this.name = 'EreSyntaxError';
  }
}

/** A JavaScript RegExp that matches what the POSIX ERE `pattern` matches. */
export function ereToRegExp(pattern: string): RegExp {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c === '[') {
      const { source, end } = translateBracket(pattern, i);
      out += source;
      i = end;
    } else if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw new EreSyntaxError(pattern, 'trailing backslash');
      if (next === '<' || next === '>') out += '\\b';
      else if (/[wWsSbB]/.test(next)) out += `\\${next}`;
      else out += escapeLiteral(next);
      i += 2;
    } else if (c === '{' && !/^\{[0-9]+(,[0-9]*)?\}/.test(pattern.slice(i))) {
      out += '\\{';
      i++;
    } else if (c === '}' && !/\{[0-9]+(,[0-9]*)?$/.test(pattern.slice(0, i))) {
      out += '\\}';
      i++;
    } else {
      out += c;
      i++;
    }
  }
  try {
    return new RegExp(out);
  } catch (error) {
    throw new EreSyntaxError(pattern, (error as Error).message);
  }
}

/** `[...]` starting at `start`: its JavaScript class and the index after its closing `]`. */
function translateBracket(pattern: string, start: number): { source: string; end: number } {
  let i = start + 1;
  let negate = false;
  if (pattern[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  for (;;) {
    const c = pattern[i];
    if (c === undefined) throw new EreSyntaxError(pattern, 'unterminated bracket expression');
    if (c === ']' && !first) break;
    first = false;
    if (c === '[' && (pattern[i + 1] === ':' || pattern[i + 1] === '=' || pattern[i + 1] === '.')) {
      const kind = pattern[i + 1] as string;
      const close = pattern.indexOf(`${kind}]`, i + 2);
      if (close < 0) throw new EreSyntaxError(pattern, `unterminated [${kind}`);
      const name = pattern.slice(i + 2, close);
      if (kind === ':') {
        const cls = CLASSES[name];
        if (cls === undefined) throw new EreSyntaxError(pattern, `unknown class [:${name}:]`);
        body += cls;
      } else {
        body += escapeInClass(name);
      }
      i = close + 2;
    } else if (c === '-') {
      // A range operator between two items; literal at either end.
      const atEdge = body === '' || pattern[i + 1] === ']';
      body += atEdge ? '\\-' : '-';
      i++;
    } else {
      // Inside brackets a backslash is an ordinary character in POSIX.
      body += escapeInClass(c);
      i++;
    }
  }
  return { source: `[${negate ? '^' : ''}${body}]`, end: i + 1 };
}

function escapeInClass(text: string): string {
  return text.replace(/[\\\]^[-]/g, '\\$&');
}

function escapeLiteral(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}
