// Small DOM helpers: elements are built with text nodes, never from HTML
// strings, so device ids and fence names cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = el.defaultChecked = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let fieldSeq = 0;

// field is a labelled input; the label's for= ties them for screen readers.
export function field(label, attrs = {}, hint) {
  const id = attrs.id || "f" + ++fieldSeq;
  const input = attrs.tag === "select" || attrs.tag === "textarea"
    ? h(attrs.tag, { ...attrs, tag: undefined, id, options: undefined }, ...(attrs.options || []))
    : h("input", { type: "text", ...attrs, id });
  const parts = [h("label", { for: id }, label), input];
  if (hint) {
    const hid = id + "-hint";
    input.setAttribute("aria-describedby", hid);
    parts.push(h("small", { id: hid }, hint));
  }
  return { el: h("div", { class: "field" }, parts), input };
}

export function status(msg, kind = "info") {
  const el = document.getElementById("status");
  el.textContent = msg;
  el.className = kind;
  if (kind !== "error") {
    clearTimeout(status.timer);
    status.timer = setTimeout(() => {
      if (el.textContent === msg) el.textContent = "";
    }, 4000);
  }
}

export function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 86400) return Math.floor(s / 3600) + " h";
  return Math.floor(s / 86400) + " d";
}

// localInput formats a Date for <input type="datetime-local">.
export function localInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
