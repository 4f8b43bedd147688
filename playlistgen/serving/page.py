"""The web page `playlistgen serve` shows at /: one self-contained HTML file (no CDN, inline script and style)
that calls the JSON API (server.py)."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>playlistgen</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} .sub{color:#666;margin-top:0}
form{display:flex;gap:.5em;flex-wrap:wrap;align-items:center;margin:1em 0}
input[type=text]{flex:1;min-width:16em;font-size:1.1em;padding:.4em}
input[type=number]{width:4.5em;font-size:1em;padding:.35em} button{font-size:1em;padding:.4em .9em;cursor:pointer}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #ddd}
th{background:#f4f4f4} td.tags{color:#666;font-size:.9em} #status{color:#a00;min-height:1.2em}
.clusters span{display:inline-block;margin:.2em;padding:.15em .5em;border-radius:1em;background:#eef;font-size:.85em}
.links a{margin-right:1em}
</style></head><body>
<h1>playlistgen</h1><p class="sub">Type a playlist title or a mood, in any language.</p>
<form id="f"><input id="title" type="text" placeholder="rainy sunday piano" maxlength="__MAX_TITLE__" autofocus required>
<label>songs <input id="n" type="number" min="1" max="__MAX__" value="__N__"></label>
<button id="go" type="submit">Generate</button><button id="reroll" type="button" disabled>Re-roll</button></form>
<div id="status" role="status"></div>
<div class="links" id="links" hidden><a id="m3u" download="playlist.m3u">Download M3U</a>
<a id="json" download="playlist.json">Download JSON</a></div>
<table id="tracks" hidden><thead><tr><th>#</th><th>title</th><th>artist</th><th>tags</th><th>cluster</th></tr></thead>
<tbody></tbody></table>
<h3 id="ch" hidden>Clusters behind it</h3><div class="clusters" id="clusters"></div>
<script>
let last = null;
const $ = id => document.getElementById(id);
function show(data) {
  last = data;
  $("status").textContent = data.notice || "";
  const body = $("tracks").querySelector("tbody");
  body.replaceChildren();
  for (const t of data.tracks) {
    const tr = document.createElement("tr");
    for (const v of [t.position, t.title, t.artist, (t.tags || []).join(", "), t.cluster]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    tr.children[3].className = "tags"; body.appendChild(tr);
  }
  $("clusters").replaceChildren(...data.clusters.map(c => {
    const s = document.createElement("span");
    s.textContent = c.cluster + " · " + c.size + " songs" + (c.tags.length ? " · " + c.tags.join(", ") : "");
    return s;
  }));
  const q = new URLSearchParams({title: data.title, n: data.n, seed: data.seed});
  $("m3u").href = "/api/playlist?" + q + "&format=m3u";
  $("json").href = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], {type: "application/json"}));
  for (const id of ["tracks", "links", "ch"]) $(id).hidden = false;
  $("reroll").disabled = false;
}
async function call(path, body) {
  $("status").textContent = "";
  try {
    const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                 body: JSON.stringify(body)});
    const data = await r.json();
    if (!r.ok) { $("status").textContent = data.error || ("error " + r.status); return; }
    show(data);
  } catch (e) { $("status").textContent = "the server did not answer: " + e; }
}
$("f").addEventListener("submit", e => {
  e.preventDefault();
  call("/api/playlist", {title: $("title").value, n: Number($("n").value)});
});
$("reroll").addEventListener("click", () => {
  if (last) call("/api/reroll", {title: last.title, clusters: last.clusters.map(c => c.cluster),
                                 n: Number($("n").value)});
});
</script></body></html>
"""
