import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  formatScore,
  groupScores,
  isScoreWidget,
  SCORE_AREAS,
  scoreColour,
  scoreDirection,
  scoreLabel,
  snapScore,
  trackBackground,
  widgetStep,
} from "../../web/score_panel_model.js";

const data = JSON.parse(readFileSync(new URL("../../web/zone_diagram.json", import.meta.url), "utf8"));
const rgb = (css) => css.match(/\d+/g).map(Number);

test("every aging group of the Zone Scores node (exported from Python) has a named face area", () => {
  const areas = groupScores(data.aging_groups);
  assert.ok(!areas.some((a) => a.id === "other"), `ungrouped: ${JSON.stringify(areas.at(-1))}`);
  const shown = areas.flatMap((a) => a.names);
  assert.deepEqual([...shown].sort(), [...data.aging_groups].sort()); // each exactly once
  for (const name of SCORE_AREAS.flatMap((a) => a.names)) assert.ok(data.aging_groups.includes(name), `${name} is no aging group`);
});

test("areas keep their top-to-bottom order, drop empty ones and collect unknown names last", () => {
  assert.deepEqual(groupScores(["chin", "new_zone", "forehead"]), [
    { id: "upper", title: "Upper face", names: ["forehead"] },
    { id: "lower", title: "Lower face", names: ["chin"] },
    { id: "other", title: "Other zones", names: ["new_zone"] },
  ]);
  assert.deepEqual(groupScores([]), []);
});

test("score widgets are the signed numeric ones", () => {
  assert.ok(isScoreWidget({ type: "number", options: { min: -1, max: 1 } }));
  assert.ok(!isScoreWidget({ type: "number", options: { min: 0, max: 2 } })); // preset_strength
  assert.ok(!isScoreWidget({ type: "combo", options: { min: -1, max: 1 } }));
  assert.ok(!isScoreWidget({ type: "number" }));
  assert.ok(!isScoreWidget(undefined));
});

test("colours: grey at 0, blue when younger, orange when older, stronger with magnitude", () => {
  const [r0, g0, b0] = rgb(scoreColour(0));
  assert.ok(r0 === g0 && g0 === b0);
  const [ry, , by] = rgb(scoreColour(-1));
  const [ro, , bo] = rgb(scoreColour(1));
  assert.ok(by > ry + 100, "younger is blue");
  assert.ok(ro > bo + 100, "older is orange");
  const [, , bHalf] = rgb(scoreColour(-0.5));
  assert.ok(b0 < bHalf && bHalf < by);
  assert.equal(scoreColour(-7), scoreColour(-1)); // clamped
  assert.equal(scoreDirection(-0.3), "younger");
  assert.equal(scoreDirection(0.3), "older");
  assert.equal(scoreDirection(0.01), "neutral");
});

test("values snap to the slider step and print signed", () => {
  assert.equal(snapScore(0.1 + 0.2), 0.3);
  assert.equal(snapScore(0.33), 0.35);
  assert.equal(snapScore(-3), -1);
  assert.equal(snapScore("0.51", { step: 0.1 }), 0.5);
  assert.equal(formatScore(0.35), "+0.35");
  assert.equal(formatScore(-0.2), "-0.20");
  assert.equal(formatScore(0.001), "0");
  assert.equal(scoreLabel("crows_feet"), "Crow's feet");
  assert.equal(scoreLabel("new_zone"), "New zone");
});

test("the track bar runs from the centre to the value", () => {
  assert.match(trackBackground(0.5), / 50%.* 75%/);
  assert.match(trackBackground(-1), / 0%.* 50%/);
});

test("the slider step is ComfyUI's (step2, else step / 10)", () => {
  assert.equal(widgetStep({ step: 0.5, step2: 0.05 }), 0.05);
  assert.equal(widgetStep({ step: 0.5 }), 0.05);
  assert.equal(widgetStep({}), 1);
});
