// setup.sh's `key=value` arguments, validated exactly as lib.sh's pw_parse_setup_args does (the
// same regular expressions, order and messages), so start-setup refuses the same words.

import type { AgentKind } from './paths.js';
import { ereToRegExp } from './posix-ere.js';

export const RE = {
  uint: ereToRegExp('^[1-9][0-9]*$'),
  epoch: ereToRegExp('^[0-9]+$'),
  label: '^[a-z0-9]+: ?[A-Za-z0-9-]+$',
  tap: '^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$',
  formula:
    '^[A-Za-z0-9][A-Za-z0-9_.@+-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.@+-]*)?$',
  url: '^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+)*$',
  org: '^[A-Za-z0-9][A-Za-z0-9-]{0,38}$',
  group: '^[A-Za-z0-9][A-Za-z0-9-]{0,62}$',
  version: '^[0-9]+[.][0-9]+[.][0-9]+$',
  envPair: '^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_./:@%+=~-]*$',
  labels: '^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$',
  secret: ereToRegExp('^[A-Za-z0-9._~+/=:-]+$'),
} as const;

export interface SetupArgs {
  label: string;
  taps: string;
  formulas: string;
  drain: number;
  url: string;
  org: string;
  group: string;
  version: string;
  runnerenv: string;
  /** github-actions: the runner's custom labels, comma-separated ('' = none). */
  labels: string;
}

const test = (value: string, ere: string): boolean => ereToRegExp(ere).test(value);

/** The parsed arguments, or the refusal text (never echoing a value back). */
export function parseSetupArgs(kind: AgentKind, words: readonly string[]): SetupArgs | string {
  const out: SetupArgs = {
    label: '',
    taps: '',
    formulas: '',
    drain: 7200,
    url: '',
    org: '',
    group: '',
    version: '',
    runnerenv: '',
    labels: '',
  };
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) return 'setup arguments must be key=value words';
    const key = word.slice(0, eq);
    const val = word.slice(eq + 1);
    if (hasControl(val)) return `setup argument '${key}' contains control characters`;
    switch (key) {
      case 'label':
        if (!test(val, RE.label)) return `setup argument 'label' must match ${RE.label}`;
        out.label = val;
        break;
      case 'taps':
      case 'formulas': {
        const re = key === 'taps' ? RE.tap : RE.formula;
        for (const w of val.split(/[ \t\n]+/).filter((x) => x !== '')) {
          if (!test(w, re)) return `invalid ${key === 'taps' ? 'tap' : 'formula'} name in '${key}'`;
        }
        out[key] = val;
        break;
      }
      case 'drain':
        if (!RE.uint.test(val)) return "setup argument 'drain' must be an integer >= 1";
        out.drain = Number(val);
        break;
      case 'url':
      case 'org':
      case 'group':
      case 'version':
      case 'labels':
        if (!test(val, RE[key])) return `setup argument '${key}' must match ${RE[key]}`;
        out[key] = val;
        break;
      case 'runnerenv': {
        // IFS=, read -a: a trailing empty field is dropped, inner empty fields are kept.
        const pairs = val === '' ? [] : val.split(',');
        if (val.endsWith(',')) pairs.pop();
        for (const pair of pairs) {
          if (!test(pair, RE.envPair)) return "invalid KEY=VALUE pair in 'runnerenv'";
        }
        out.runnerenv = val;
        break;
      }
      default:
        return `unknown setup argument '${key}'`;
    }
  }
  if (kind === 'cirrus' && out.label === '') {
    return "agent 'cirrus' needs the setup argument 'label'";
  }
  if (kind === 'github-actions') {
    for (const key of ['url', 'org', 'group', 'version'] as const) {
      if (out[key] === '') return `agent 'github-actions' needs the setup argument '${key}'`;
    }
  }
  return out;
}

export function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Control characters become spaces (bash's `${v//[[:cntrl:]]/ }`). */
export function controlToSpace(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    out += code < 0x20 || code === 0x7f ? ' ' : ch;
  }
  return out;
}
