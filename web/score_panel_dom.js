// The grouped zone-score sliders: one range input per score widget, under a heading per face area, coloured
// blue (younger / smoother) to orange (older), with reset-to-0 controls. The widgets stay the source of truth:
// sliders write through setValue() and refresh() redraws from the widgets. Side-effect free at import.

import { el, ensureStyle } from "./dom_helpers.js";
import {
  formatScore,
  groupScores,
  scoreColour,
  scoreDirection,
  scoreLabel,
  snapScore,
  trackBackground,
  widgetStep,
} from "./score_panel_model.js";

const CSS = `
.facelab-sp { display: flex; flex-direction: column; gap: 2px; padding: 2px 6px; box-sizing: border-box;
  font: 11px sans-serif; color: var(--input-text, #ddd); }
.facelab-sp .fl-head { display: flex; align-items: center; justify-content: space-between; gap: 6px; }
.facelab-sp .fl-legend { opacity: 0.85; }
.facelab-sp .fl-legend .fl-y { color: rgb(64, 156, 255); }
.facelab-sp .fl-legend .fl-o { color: rgb(255, 140, 40); }
.facelab-sp .fl-area { margin-top: 3px; display: flex; align-items: center; justify-content: space-between;
  border-bottom: 1px solid var(--border-color, #444); font-weight: bold; opacity: 0.9; }
.facelab-sp button { border: 1px solid var(--border-color, #555); border-radius: 8px; padding: 0 6px;
  background: var(--comfy-input-bg, #222); color: inherit; font: 10px sans-serif; cursor: pointer; }
.facelab-sp .fl-row { display: grid; grid-template-columns: 7.5em 1fr 3.2em; align-items: center; gap: 6px; height: 19px; }
.facelab-sp .fl-row .fl-name { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.facelab-sp .fl-row output { text-align: right; font-variant-numeric: tabular-nums; }
.facelab-sp input[type=range] { -webkit-appearance: none; appearance: none; width: 100%; height: 6px; margin: 0;
  border-radius: 3px; cursor: pointer; }
.facelab-sp input[type=range]::-webkit-slider-thumb { -webkit-appearance: none; width: 11px; height: 11px;
  border-radius: 50%; background: #eee; border: 1px solid #333; }
.facelab-sp input[type=range]::-moz-range-thumb { width: 11px; height: 11px; border-radius: 50%; background: #eee; border: 1px solid #333; }
.facelab-sp .fl-row.fl-linked { opacity: 0.4; }
`;

export const ROW_HEIGHT = 21;
export const AREA_HEIGHT = 20;
export const HEAD_HEIGHT = 22;

/** Pixels the panel needs for these widgets (ComfyUI sizes DOM widgets from this). */
export function panelHeight(widgets) {
  const areas = groupScores(widgets.map((w) => w.name));
  return HEAD_HEIGHT + areas.length * AREA_HEIGHT + widgets.length * ROW_HEIGHT + 8;
}

/**
 * Build the panel for `widgets` (the node's score widgets). setValue(widget, value) writes one widget;
 * isLinked(widget) says its value comes from a link (its slider is then disabled). Returns {element, refresh}.
 */
export function createScorePanel({ widgets, setValue, isLinked = () => false }) {
  ensureStyle("facelab-score-panel-css", CSS);
  const byName = new Map(widgets.map((w) => [w.name, w]));
  const rows = new Map(); // name -> {row, input, output}

  function resetAll(names) {
    for (const name of names) if (!isLinked(byName.get(name))) setValue(byName.get(name), 0);
    refresh();
  }

  const resetButton = el("button", { "data-action": "reset-all", title: "Set every zone score to 0 (untouched)" }, "Reset all to 0");
  resetButton.addEventListener("click", () => resetAll([...byName.keys()]));
  const legend = el("span", { class: "fl-legend" });
  legend.append(el("span", { class: "fl-y" }, "\u25C0 younger"), " \u00B7 ", el("span", { class: "fl-o" }, "older \u25B6"));
  const element = el("div", { class: "facelab-sp" }, el("div", { class: "fl-head" }, legend, resetButton));

  for (const area of groupScores(widgets.map((w) => w.name))) {
    const areaReset = el("button", { "data-action": `reset-${area.id}`, title: `Set the ${area.title.toLowerCase()} scores to 0` }, "0");
    areaReset.addEventListener("click", () => resetAll(area.names));
    element.append(el("div", { class: "fl-area", "data-area": area.id }, el("span", {}, area.title), areaReset));
    for (const name of area.names) {
      const widget = byName.get(name);
      const o = widget.options ?? {};
      const range = { min: o.min ?? -1, max: o.max ?? 1, step: widgetStep(o) };
      const input = el("input", { type: "range", min: range.min, max: range.max, step: range.step, "data-score": name });
      const output = el("output");
      const tip = widget.tooltip ?? o.tooltip ?? "";
      const row = el("div", { class: "fl-row", title: `${tip}\nDouble-click: back to 0.` },
        el("span", { class: "fl-name" }, scoreLabel(name)), input, output);
      input.addEventListener("input", () => {
        setValue(widget, snapScore(input.value, range));
        refreshRow(name);
      });
      row.addEventListener("dblclick", () => resetAll([name]));
      rows.set(name, { row, input, output, range });
      element.append(row);
    }
  }

  function refreshRow(name) {
    const { row, input, output, range } = rows.get(name);
    const widget = byName.get(name);
    const value = Number(widget.value) || 0;
    if (document.activeElement !== input) input.value = String(value);
    input.style.background = trackBackground(value, range);
    input.disabled = isLinked(widget);
    row.classList.toggle("fl-linked", input.disabled);
    row.dataset.direction = scoreDirection(value, range.step);
    output.textContent = input.disabled ? "link" : formatScore(value);
    output.style.color = scoreColour(value);
  }

  function refresh() {
    for (const name of rows.keys()) refreshRow(name);
  }

  element.addEventListener("pointerenter", refresh);
  refresh();
  return { element, refresh };
}
