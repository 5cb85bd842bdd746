// EC2 Query-API XML documents. A response body is a plain object tree: object = element, array under
// `item` = repeated <item>, undefined = element omitted, Date = ISO-8601 with milliseconds (as EC2).

import { XMLBuilder } from 'fast-xml-parser';

export const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
export const EC2_API_VERSION = '2016-11-15';

export type XmlValue = string | number | boolean | Date | undefined | XmlObject | XmlValue[];
export interface XmlObject {
  [element: string]: XmlValue;
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  format: false,
});

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** `<{Action}Response xmlns="..."><requestId>..</requestId>...body...</{Action}Response>` */
export function ec2Response(action: string, requestId: string, body: XmlObject): string {
  const root = { '@_xmlns': EC2_XMLNS, requestId, ...(normalize(body) as Record<string, unknown>) };
  return DECLARATION + builder.build({ [`${action}Response`]: root });
}

/** EC2's error document (HTTP 4xx/5xx). */
export function ec2ErrorResponse(code: string, message: string, requestId: string): string {
  return (
    DECLARATION +
    builder.build({
      Response: { Errors: { Error: { Code: code, Message: message } }, RequestID: requestId },
    })
  );
}

/** An EC2 list: `<item>` per element; an empty list is an empty element, as EC2 sends it. */
export function items<T>(values: readonly T[], map: (value: T) => XmlValue): XmlObject {
  return { item: values.map(map) };
}

/** EC2 omits an empty tagSet. */
export function tagSet(tags: Readonly<Record<string, string>>): XmlObject | undefined {
  const entries = Object.entries(tags);
  return entries.length === 0 ? undefined : items(entries, ([key, value]) => ({ key, value }));
}

function normalize(value: XmlValue): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = normalize(v);
    return out;
  }
  return value;
}
