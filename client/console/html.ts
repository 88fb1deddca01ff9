/**
 * HTML built from templates in which every value is escaped unless it is already HTML: run ids, comments and
 * evidence come from people and runs, and none of it may become markup on an approver's screen.
 */

/** Text that is already HTML (made by `html`). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Markup made earlier by `html` and kept as text (the live parts): trusted as HTML again. */
export function markup(text: string): Html {
  return new Html(text);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]);
}

function piece(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(piece).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/** A template whose values are escaped (Html and arrays of it pass through as markup). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  values.forEach((value, index) => (out += piece(value) + strings[index + 1]));
  return new Html(out);
}

/** 2026-05-01 10:00:03Z: the times the CLI and the report show. */
export function stamp(iso?: string | null): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z` : '-';
}

/** 1 h 5 min, 42 s: how long something has waited. */
export function ago(fromIso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(fromIso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A <time> element: machine-readable, shown as the report shows times. */
export function time(iso?: string | null): Html {
  return iso ? html`<time datetime="${iso}">${stamp(iso)}</time>` : html`-`;
}
