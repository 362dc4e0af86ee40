// FaceLab frontend extension: a zone picker on every FaceLab node with a `zones` text input, and grouped,
// colour-coded score sliders on Aging Zone Scores.
//
// The node's own widgets stay the real values: the picker edits the `zones` text, the score panel edits the FLOAT
// widgets (hidden while the panel shows them). Both added widgets are DOM widgets kept out of the prompt
// (options.serialize = false) and out of the saved workflow (serialize = false); they are appended last so that
// widgets_values keep the positions ComfyUI and the workflow checks expect.

import { app } from "../../scripts/app.js";
import { createScorePanel, panelHeight } from "./score_panel_dom.js";
import { isScoreWidget } from "./score_panel_model.js";
import { createZonePicker } from "./zone_picker_dom.js";
import { templateView } from "./template_view.js";
import { makeAtlas } from "./zone_selection.js";

const PICKER_WIDGET = "zone_picker";
const PANEL_WIDGET = "zone_score_panel";
const PICKER_HEIGHT = 290;
const REFRESH = Symbol("facelabRefresh");

let atlasPromise = null;
let diagram = null; // web/zone_diagram.json
let atlas = null; // makeAtlas(diagram)

/** Load the diagram once; true when the widgets can be built (a failure is reported once, nodes stay plain). */
function loadAtlas() {
  atlasPromise ??= fetch(new URL("./zone_diagram.json", import.meta.url))
    .then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.json();
    })
    .then((data) => {
      diagram = data;
      atlas = makeAtlas(data);
      return true;
    })
    .catch((error) => {
      console.warn("FaceLab: zone picker and score sliders unavailable (could not load zone_diagram.json)", error);
      return false;
    });
  return atlasPromise;
}

function inputSpecs(nodeData) {
  return { ...(nodeData?.input?.required ?? {}), ...(nodeData?.input?.optional ?? {}) };
}

function takesZones(nodeData) {
  const spec = inputSpecs(nodeData).zones;
  return Array.isArray(spec) && spec[0] === "STRING";
}

function takesScores(nodeData, agingGroups) {
  const floats = Object.entries(inputSpecs(nodeData)).filter(([name, spec]) => spec?.[0] === "FLOAT" && agingGroups.includes(name));
  return floats.length >= 2;
}

/** Call `extra` after the original method (if any), keeping its result. */
function chainMethod(target, key, extra) {
  const original = target[key];
  target[key] = function (...args) {
    const result = original?.apply(this, args);
    extra.apply(this, args);
    return result;
  };
}

function isLinked(node, widget) {
  return node.inputs?.some((slot) => slot.widget?.name === widget.name && slot.link != null) ?? false;
}

/** Write a widget the way a user edit does: value, its callback, the node's change hook, a redraw. */
function setWidgetValue(node, widget, value) {
  const old = widget.value;
  widget.value = value;
  widget.callback?.(widget.value, app.canvas, node);
  node.onWidgetChanged?.(widget.name, widget.value, old, widget);
  node.setDirtyCanvas?.(true, true);
}

function addRefresh(node, refresh) {
  (node[REFRESH] ??= []).push(refresh);
}

function refreshAll(node) {
  for (const refresh of node[REFRESH] ?? []) refresh();
}

function growToFit(node) {
  const [, h] = node.computeSize();
  if (node.size[1] < h) node.setSize([node.size[0], h]);
}

/** Width: at least what it was (and 300 px); height: what the widgets need now (hidden sliders no longer count). */
function fitSize(node) {
  const [w, h] = node.computeSize();
  node.setSize([Math.max(node.size[0], w, 300), h]);
}

function addZonePicker(node) {
  const zones = node.widgets?.find((w) => w.name === "zones");
  if (!zones || node.widgets.some((w) => w.name === PICKER_WIDGET)) return;
  const picker = createZonePicker({
    diagram,
    atlas,
    getText: () => String(zones.value ?? ""),
    setText: (text) => setWidgetValue(node, zones, text),
    isLinked: () => isLinked(node, zones),
  });
  const widget = node.addDOMWidget(PICKER_WIDGET, "facelab_zone_picker", picker.element, {
    serialize: false,
    getMinHeight: () => PICKER_HEIGHT,
  });
  widget.serialize = false;
  chainMethod(zones, "callback", () => picker.refresh()); // typing in the text widget
  addRefresh(node, picker.refresh);
}

function addScorePanel(node) {
  if (node.widgets?.some((w) => w.name === PANEL_WIDGET)) return;
  const scores = (node.widgets ?? []).filter((w) => isScoreWidget(w) && diagram.aging_groups.includes(w.name));
  if (scores.length < 2) return;
  const panel = createScorePanel({
    widgets: scores,
    setValue: (widget, value) => setWidgetValue(node, widget, value),
    isLinked: (widget) => isLinked(node, widget),
  });
  const widget = node.addDOMWidget(PANEL_WIDGET, "facelab_score_panel", panel.element, {
    serialize: false,
    getMinHeight: () => panelHeight(scores),
  });
  widget.serialize = false;
  // The panel shows the scores; a score fed by a link keeps its own (linked) widget so its socket stays visible.
  // (`hidden` for the classic canvas, `options.hidden` for the Vue node renderer.)
  const syncHidden = () => {
    for (const w of scores) {
      const hide = !isLinked(node, w);
      w.hidden = hide;
      (w.options ??= {}).hidden = hide;
    }
  };
  syncHidden();
  for (const w of scores) chainMethod(w, "callback", () => panel.refresh()); // edits made elsewhere (e.g. scripts)
  addRefresh(node, () => {
    syncHidden();
    panel.refresh();
  });
}

app.registerExtension({
  name: "FaceLab.ZoneWidgets",

  // Runs after the frontend has set the view (restored, or fitted for a template): a shipped FaceLab workflow
  // opens on its read-me and photo at a readable zoom, unless the user turned view restoring off.
  async afterConfigureGraph() {
    const view = templateView(app.rootGraph?.extra);
    if (!view || app.extensionManager?.setting?.get?.("Comfy.EnableWorkflowViewRestore") === false) return;
    app.canvas.ds.scale = view.scale;
    app.canvas.ds.offset = view.offset;
    app.canvas.setDirty(true, true);
  },

  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!String(nodeData?.name ?? "").startsWith("FaceLab") || !(await loadAtlas())) return;
    const picker = takesZones(nodeData);
    const panel = takesScores(nodeData, diagram.aging_groups);
    if (!picker && !panel) return;
    chainMethod(nodeType.prototype, "onNodeCreated", function () {
      if (picker) addZonePicker(this);
      if (panel) addScorePanel(this);
      fitSize(this);
    });
    // Saved widget values are applied after onNodeCreated; links change the editable state.
    chainMethod(nodeType.prototype, "onConfigure", function () {
      growToFit(this); // a workflow saved without this extension has no room for the added widgets
      refreshAll(this);
    });
    chainMethod(nodeType.prototype, "onConnectionsChange", function () {
      refreshAll(this);
    });
  },
});
