/**
 * The console's static assets, served from the worker itself (no CDN: the CSP allows 'self' only).
 * Small on purpose: one stylesheet that reads on a phone, one script for the replay player.
 */
import { PLAYER_JS } from "./player-script.ts";

export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #5b6470; --line: #d0d7de; --accent: #0b5cad; --ok: #116329; --bad: #a40e26; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9da7b3; --line: #30363d; --accent: #58a6ff; --ok: #3fb950; --bad: #f85149; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .5rem 1rem; border-bottom: 1px solid var(--line); }
header nav { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; flex: 1; }
header ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
.brand { font-weight: 700; text-decoration: none; color: var(--fg); }
.signout { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
main { padding: 1rem; max-width: 70rem; margin: 0 auto; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid var(--accent); outline-offset: 2px; }
pre, code { font-family: ui-monospace, monospace; font-size: .9rem; }
pre { white-space: pre-wrap; word-break: break-word; background: color-mix(in srgb, var(--fg) 6%, transparent); padding: .5rem; border-radius: 4px; }
.muted { color: var(--muted); }
.requests, .providers, .sessions, .timeline { list-style: none; padding: 0; }
.request, .session-row { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; margin: .5rem 0; }
.status { font-weight: 600; }
.approved, .ok { color: var(--ok); } .denied, .bad, .expired { color: var(--bad); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
@media (max-width: 40rem) { dl { grid-template-columns: 1fr; } dd { margin-bottom: .5rem; } }
form.vote { display: grid; gap: .25rem; margin: .75rem 0; max-width: 30rem; }
input, select, button { font: inherit; padding: .4rem .6rem; min-height: 2.5rem; }
button, .button { display: inline-block; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); cursor: pointer; text-decoration: none; padding: .4rem .9rem; }
button.approve { background: var(--ok); color: #fff; border-color: var(--ok); }
button.deny { background: var(--bad); color: #fff; border-color: var(--bad); }
.filters a[aria-current] { font-weight: 700; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
form.filters label { display: grid; }
table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid var(--line); text-align: left; padding: .3rem .5rem; vertical-align: top; }
.table-wrap { overflow-x: auto; }
.terminal { background: #000; color: #ddd; min-height: 12rem; max-height: 30rem; overflow: auto; padding: .5rem; }
.player-controls { display: flex; gap: .5rem; align-items: center; margin: .5rem 0; }
`;

export const ASSETS: Record<string, { type: string; body: string }> = {
  "console.css": { type: "text/css; charset=utf-8", body: CONSOLE_CSS },
  "player.js": { type: "text/javascript; charset=utf-8", body: PLAYER_JS },
};
