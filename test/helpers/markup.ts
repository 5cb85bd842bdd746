// Parses the SVG and HTML that pw-pool renders (both well-formed XML) into a small element tree,
// with fast-xml-parser, so tests can look for elements, attributes and text.
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface El {
  readonly tag: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly El[];
  /** The concatenated, decoded text of this element and its descendants. */
  readonly text: string;
}

type Raw = Record<string, unknown>;

function convert(nodes: readonly Raw[]): El[] {
  const out: El[] = [];
  for (const node of nodes) {
    const tag = Object.keys(node).find((k) => k !== ':@');
    if (tag === undefined || tag === '#text' || tag.startsWith('?') || tag.startsWith('!')) {
      if (tag === '#text')
        out.push({ tag: '#text', attrs: {}, children: [], text: String(node[tag]) });
      continue;
    }
    const attrsRaw = (node[':@'] ?? {}) as Record<string, unknown>;
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(attrsRaw)) attrs[k.replace(/^@_/, '')] = String(v);
    const children = convert(node[tag] as Raw[]);
    out.push({ tag, attrs, children, text: children.map((c) => c.text).join('') });
  }
  return out;
}

/** Throws when `markup` is not well-formed; returns the root elements. */
export function parseMarkup(markup: string): El[] {
  const body = markup.replace(/^<!DOCTYPE html>\s*/i, '');
  const valid = XMLValidator.validate(body);
  if (valid !== true) throw new Error(`not well-formed: ${JSON.stringify(valid.err)}`);
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: true,
    htmlEntities: true,
  });
  return convert(parser.parse(body) as Raw[]);
}

/** Every element (depth first) matching `pred`. */
export function findAll(roots: readonly El[], pred: (el: El) => boolean): El[] {
  const out: El[] = [];
  const walk = (els: readonly El[]) => {
    for (const el of els) {
      if (el.tag !== '#text' && pred(el)) out.push(el);
      walk(el.children);
    }
  };
  walk(roots);
  return out;
}

export function byId(roots: readonly El[], id: string): El | undefined {
  return findAll(roots, (el) => el.attrs.id === id)[0];
}

export function byTag(roots: readonly El[], tag: string): El[] {
  return findAll(roots, (el) => el.tag === tag);
}
