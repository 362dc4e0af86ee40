// The zone picker element: a face diagram (SVG) with clickable zones plus a row of chips.
//
// It never stores a selection of its own: it reads the `zones` text through getText(), writes edits through
// setText(), and refresh() redraws it from the text. Side-effect free at import.

import { el, ensureStyle, svgEl } from "./dom_helpers.js";
import { clickTargets, resolveZones, selectionState, toggleZones } from "./zone_selection.js";

const SCALE = 1000; // diagram units (longer side = 1) -> SVG user units
// Zones covering the whole face are chips, not regions: as regions they would swallow every click between zones.
const WHOLE_FACE = { face_oval: "Whole face", skin: "Skin" };
const GROUP_CHIPS = { all_wrinkle_zones: "Wrinkles" };

const CSS = `
.facelab-zp { display: flex; flex-direction: column; gap: 4px; height: 100%; box-sizing: border-box;
  padding: 2px 4px; font: 11px sans-serif; color: var(--input-text, #ddd); }
.facelab-zp svg { flex: 1 1 auto; min-height: 120px; width: 100%; }
.facelab-zp .fl-face { fill: rgba(200, 170, 150, 0.12); stroke: rgba(220, 220, 220, 0.5); stroke-width: 3; pointer-events: none; }
.facelab-zp .fl-zone { fill: rgba(160, 160, 160, 0.18); stroke: rgba(230, 230, 230, 0.45); stroke-width: 2.5;
  fill-rule: evenodd; cursor: pointer; }
.facelab-zp .fl-zone:hover { fill: rgba(120, 190, 255, 0.45); stroke: #fff; }
.facelab-zp .fl-zone.fl-on { fill: rgba(40, 150, 255, 0.78); stroke: #cfe8ff; }
.facelab-zp .fl-zone.fl-on:hover { fill: rgba(40, 150, 255, 0.6); }
.facelab-zp .fl-side { fill: rgba(230, 230, 230, 0.7); font: bold 56px sans-serif; pointer-events: none; }
.facelab-zp .fl-chips { display: flex; flex-wrap: wrap; gap: 3px; justify-content: center; }
.facelab-zp .fl-chip { border: 1px solid var(--border-color, #555); border-radius: 9px; padding: 1px 6px;
  background: var(--comfy-input-bg, #222); color: inherit; font: inherit; cursor: pointer; }
.facelab-zp .fl-chip.fl-on { background: rgb(40, 150, 255); border-color: rgb(40, 150, 255); color: #fff; }
.facelab-zp .fl-chip.fl-some { border-color: rgb(40, 150, 255); }
.facelab-zp .fl-status { min-height: 14px; opacity: 0.85; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.facelab-zp .fl-status.fl-warn { color: #ff9a6a; opacity: 1; }
.facelab-zp.fl-disabled svg, .facelab-zp.fl-disabled .fl-chips { opacity: 0.35; pointer-events: none; }
`;

function pathData(rings) {
  return rings
    .map((ring) => "M" + ring.map(([x, y]) => `${Math.round(x * SCALE)} ${Math.round(y * SCALE)}`).join("L") + "Z")
    .join("");
}

function ringArea(ring) {
  let a = 0;
  for (let i = 0; i < ring.length; i++) {
    const [x0, y0] = ring[i];
    const [x1, y1] = ring[(i + 1) % ring.length];
    a += x0 * y1 - x1 * y0;
  }
  return Math.abs(a) / 2;
}

function zoneArea(zone) {
  return zone.rings.reduce((s, r) => s + ringArea(r), 0) - zone.holes.reduce((s, r) => s + ringArea(r), 0);
}

function label(name) {
  return name.replaceAll("_", " ");
}

/**
 * Build a picker. `diagram` is web/zone_diagram.json, `atlas` its makeAtlas(); getText/setText read and write the
 * node's `zones` text; isLinked() says the text comes from a link (then the picker only shows it).
 * Returns {element, refresh}.
 */
export function createZonePicker({ diagram, atlas, getText, setText, isLinked = () => false }) {
  ensureStyle("facelab-zone-picker-css", CSS);
  const [w, h] = diagram.size;
  const svg = svgEl("svg", { viewBox: `0 0 ${w * SCALE} ${h * SCALE}`, preserveAspectRatio: "xMidYMid meet" });
  svg.append(svgEl("path", { class: "fl-face", d: pathData(diagram.zones.face_oval.rings) }));
  // Largest first, so smaller zones (lips on the mouth, nostrils on the nose) lie on top and get the click.
  const clickable = Object.keys(diagram.zones).filter((n) => !(n in WHOLE_FACE) && atlas.zones.has(n));
  clickable.sort((a, b) => zoneArea(diagram.zones[b]) - zoneArea(diagram.zones[a]));
  const paths = new Map();
  for (const name of clickable) {
    const zone = diagram.zones[name];
    const title = svgEl("title");
    title.textContent = `${name}: ${diagram.definitions?.[name] ?? ""}`;
    const path = svgEl("path", { class: "fl-zone", "data-zone": name, d: pathData([...zone.rings, ...zone.holes]) }, title);
    paths.set(name, path);
    svg.append(path);
  }
  // The subject's right is on the image's left (the names use the person's own sides).
  const right = svgEl("text", { class: "fl-side", x: 8, y: 56 });
  right.textContent = "R";
  const left = svgEl("text", { class: "fl-side", x: w * SCALE - 44, y: 56 });
  left.textContent = "L";
  svg.append(right, left);

  const status = el("div", { class: "fl-status" });
  const bothSides = el("button", { class: "fl-chip fl-on", "data-chip": "both_sides",
    title: "Clicking one side also toggles the other side (hold Shift for one side only)" }, "Both sides");
  const chips = el("div", { class: "fl-chips" }, bothSides);
  const groupChips = new Map();
  for (const [name, text] of Object.entries({ ...GROUP_CHIPS, ...WHOLE_FACE })) {
    const zones = atlas.groups[name] ?? [name];
    const chip = el("button", { class: "fl-chip", "data-chip": name, title: diagram.definitions?.[name] ?? zones.join(", ") }, text);
    chip.addEventListener("click", () => setText(toggleZones(getText(), zones, atlas)));
    groupChips.set(chip, zones);
    chips.append(chip);
  }
  const clear = el("button", { class: "fl-chip", "data-chip": "clear", title: "Select no zone" }, "Clear");
  clear.addEventListener("click", () => setText(""));
  chips.append(clear);
  bothSides.addEventListener("click", () => bothSides.classList.toggle("fl-on"));

  const element = el("div", { class: "facelab-zp" }, svg, chips, status);
  let hovered = null;

  function summary() {
    if (isLinked()) return ["The zones come from a link: the picker only shows them.", false];
    const { zones, unknown } = resolveZones(getText(), atlas);
    if (unknown.length) return [`Unknown name(s): ${unknown.join(", ")}; the node will stop with an error`, true];
    if (hovered) return [`${label(hovered)}: ${diagram.definitions?.[hovered] ?? ""}`, false];
    if (!zones.length) return ["No zone selected: click zones on the face", false];
    return [`${zones.length} zone(s): ${zones.map(label).join(", ")}`, false];
  }

  function refresh() {
    const text = getText();
    const selected = new Set(resolveZones(text, atlas).zones);
    for (const [name, path] of paths) path.classList.toggle("fl-on", selected.has(name));
    for (const [chip, zones] of groupChips) {
      const state = selectionState(text, zones, atlas);
      chip.classList.toggle("fl-on", state === "all");
      chip.classList.toggle("fl-some", state === "some");
    }
    element.classList.toggle("fl-disabled", isLinked());
    const [message, warn] = summary();
    status.textContent = message;
    status.title = message;
    status.classList.toggle("fl-warn", warn);
  }

  svg.addEventListener("click", (event) => {
    const zone = event.target?.closest?.("[data-zone]")?.getAttribute("data-zone");
    if (!zone || isLinked()) return;
    const linkSides = bothSides.classList.contains("fl-on") !== event.shiftKey;
    setText(toggleZones(getText(), clickTargets(zone, linkSides, atlas), atlas));
  });
  svg.addEventListener("pointerover", (event) => {
    hovered = event.target?.closest?.("[data-zone]")?.getAttribute("data-zone") ?? null;
    refresh();
  });
  svg.addEventListener("pointerleave", () => {
    hovered = null;
    refresh();
  });
  element.addEventListener("pointerenter", refresh); // catch edits made where no hook reports them
  refresh();
  return { element, refresh };
}
