// Layout and colours of the grouped zone-score sliders (Aging Zone Scores node).
//
// Pure functions, no imports, no side effects (ComfyUI imports every .js under web/ as an extension).
// The sliders edit the node's own FLOAT widgets, which stay the serialised values; this module only decides
// which widgets are scores, how they are grouped into face areas and how a value is coloured.

/** Face areas, top to bottom, with the aging groups (zone_scores.AGING_GROUPS) each one shows. */
export const SCORE_AREAS = [
  { id: "upper", title: "Upper face", names: ["forehead", "glabella"] },
  { id: "eyes", title: "Eyes", names: ["crows_feet", "under_eye", "inter_ocular"] },
  { id: "mid", title: "Mid face", names: ["nasolabial", "cheeks"] },
  { id: "lower", title: "Lower face", names: ["upper_lip", "marionette", "chin", "jawline"] },
];
export const OTHER_AREA = { id: "other", title: "Other zones" };

const LABELS = {
  forehead: "Forehead",
  glabella: "Between brows",
  crows_feet: "Crow's feet",
  under_eye: "Under eyes",
  inter_ocular: "Nose bridge",
  nasolabial: "Smile lines",
  cheeks: "Cheeks",
  upper_lip: "Upper lip",
  marionette: "Mouth corners",
  chin: "Chin",
  jawline: "Jawline",
};

export function scoreLabel(name) {
  if (Object.hasOwn(LABELS, name)) return LABELS[name];
  const words = name.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A signed score slider: a numeric widget whose range spans both sides of 0 (scores are -1..+1). */
export function isScoreWidget(widget) {
  const o = widget?.options ?? {};
  return widget?.type === "number" && typeof o.min === "number" && typeof o.max === "number" && o.min < 0 && o.max > 0;
}

/** Score names -> [{id, title, names}] in SCORE_AREAS order; unknown names go to a trailing "Other zones" area. */
export function groupScores(names) {
  const present = new Set(names);
  const placed = new Set(SCORE_AREAS.flatMap((a) => a.names));
  const areas = SCORE_AREAS.map((a) => ({ id: a.id, title: a.title, names: a.names.filter((n) => present.has(n)) }));
  const others = names.filter((n) => !placed.has(n));
  if (others.length) areas.push({ ...OTHER_AREA, names: others });
  return areas.filter((a) => a.names.length > 0);
}

/** The slider step of a numeric widget: ComfyUI keeps the real step in options.step2 (options.step is x10). */
export function widgetStep(options) {
  const o = options ?? {};
  return Number(o.step2) || (Number(o.step) || 10) * 0.1;
}

/** "younger" below 0, "older" above, "neutral" at 0 (within half a slider step). */
export function scoreDirection(value, step = 0.05) {
  if (value <= -step / 2) return "younger";
  if (value >= step / 2) return "older";
  return "neutral";
}

const NEUTRAL = [128, 128, 128];
const YOUNGER = [64, 156, 255]; // blue: smoother / younger
const OLDER = [255, 140, 40]; // orange: more lines / older

/** CSS colour of a score: grey at 0, shading to blue (-1) or orange (+1) with the magnitude. */
export function scoreColour(value) {
  const v = Math.max(-1, Math.min(1, Number(value) || 0));
  const target = v < 0 ? YOUNGER : OLDER;
  const t = Math.abs(v) ** 0.6; // small scores already read as coloured
  const rgb = NEUTRAL.map((c, i) => Math.round(c + (target[i] - c) * t));
  return `rgb(${rgb.join(", ")})`;
}

/** The value text of a score: "+0.35", "-0.20", "0". */
export function formatScore(value, decimals = 2) {
  const v = Number(value) || 0;
  if (Math.abs(v) < 0.5 * 10 ** -decimals) return "0";
  return (v > 0 ? "+" : "") + v.toFixed(decimals);
}

/** A slider position snapped to the widget's step and clamped to its range (avoids 0.30000000000000004). */
export function snapScore(value, { min = -1, max = 1, step = 0.05 } = {}) {
  const v = Math.max(min, Math.min(max, Number(value) || 0));
  if (!(step > 0)) return v;
  const decimals = Math.max(0, Math.ceil(-Math.log10(step)) + 1);
  return Number((Math.round((v - min) / step) * step + min).toFixed(decimals));
}

/** Track background showing the value as a bar from the centre (0) to the thumb, in the score's colour. */
export function trackBackground(value, { min = -1, max = 1 } = {}) {
  const pos = ((Math.max(min, Math.min(max, value)) - min) / (max - min)) * 100;
  const zero = ((0 - min) / (max - min)) * 100;
  const [a, b] = pos < zero ? [pos, zero] : [zero, pos];
  const base = "rgba(128, 128, 128, 0.35)";
  const colour = scoreColour(value);
  return `linear-gradient(to right, ${base} ${a}%, ${colour} ${a}%, ${colour} ${b}%, ${base} ${b}%)`;
}
