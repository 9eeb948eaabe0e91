/** Message formatting: HTML escaping and Telegram's size limits. */
export const TEXT_LIMIT = 4096;
export const CAPTION_LIMIT = 1024;

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts text to a limit on a line boundary where it can, marking the cut. */
export function clip(text: string, limit = TEXT_LIMIT): string {
  if (text.length <= limit) return text;
  const cut = text.lastIndexOf('\n', limit - 2);
  return `${text.slice(0, cut > limit / 2 ? cut : limit - 2)}\n…`;
}

/** Joins blocks with blank lines into as few messages as fit the limit (a block longer than that is clipped). */
export function chunk(blocks: string[], limit = TEXT_LIMIT): string[] {
  const out: string[] = [];
  for (const block of blocks.map((b) => clip(b, limit))) {
    const last = out.at(-1);
    if (last !== undefined && last.length + 2 + block.length <= limit) out[out.length - 1] = `${last}\n\n${block}`;
    else out.push(block);
  }
  return out;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "3 days 4 h", "5 h", "less than an hour" */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return 'indefinitely';
  const h = Math.floor(ms / 3_600_000);
  if (h < 1) return 'less than an hour';
  const d = Math.floor(h / 24);
  if (d === 0) return `${h} h`;
  return h % 24 ? `${plural(d, 'day')} ${h % 24} h` : plural(d, 'day');
}
