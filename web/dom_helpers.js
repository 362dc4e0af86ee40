// Small DOM helpers for FaceLab's widgets. Side-effect free at import: nothing runs until a widget is built.

const SVG_NS = "http://www.w3.org/2000/svg";

/** An HTML element with attributes (`class`, `title`, data-*, ...), an optional text and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const child of children) node.append(child);
  return node;
}

/** An SVG element with attributes. */
export function svgEl(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const child of children) node.append(child);
  return node;
}

/** Add a <style> to the page once per id (the first widget built does it). */
export function ensureStyle(id, css) {
  if (document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  document.head.append(style);
}
