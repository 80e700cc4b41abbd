"use strict";
/* The runs list: refreshed every few seconds. */

async function refresh() {
  const response = await api("/runs");
  if (!response.ok) return;
  const runs = await response.json();
  const body = document.querySelector("#runs tbody");
  body.replaceChildren();
  for (const run of runs) {
    const row = document.createElement("tr");
    const link = element("a", run.id);
    link.href = "/ui/runs/" + encodeURIComponent(run.id);
    const first = document.createElement("td");
    first.appendChild(link);
    row.appendChild(first);
    row.appendChild(element("td", run.name));
    row.appendChild(element("td", run.kind));
    row.appendChild(element("td", run.active ? "running" : run.status, "status " + (run.active ? "running" : run.status)));
    row.appendChild(element("td", when(run.created)));
    row.appendChild(element("td", tokensOf(run.usage)));
    row.appendChild(element("td", money(run.cost_usd)));
    body.appendChild(row);
  }
  document.getElementById("empty").hidden = runs.length > 0;
}

refresh();
setInterval(refresh, 3000);
