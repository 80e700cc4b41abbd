"use strict";
/* Shared by the pages: API calls (a 401 sends the browser to the sign-in page) and text
   helpers. Everything from a run is inserted with textContent, never as markup. */

async function api(path, options) {
  const response = await fetch(path, Object.assign({credentials: "same-origin"}, options || {}));
  if (response.status === 401) {
    location.href = "/ui/login";
    throw new Error("not signed in");
  }
  return response;
}

function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined && text !== null) made.textContent = String(text);
  if (className) made.className = className;
  return made;
}

function money(value) {
  return "$" + Number(value || 0).toFixed(4);
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "";
}

function tokensOf(usage) {
  usage = usage || {};
  return (usage.prompt_tokens || 0) + (usage.completion_tokens || 0);
}
