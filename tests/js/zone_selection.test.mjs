// node --test tests/js/  (Node 20+, no npm install). The atlas data is web/zone_diagram.json, exported from
// Python; its `resolution_examples` are what Python's resolve_zones answered, so these tests check that the
// picker reads selection strings exactly as the nodes will.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  addZones,
  clickTargets,
  compactPairs,
  makeAtlas,
  otherSide,
  removeZones,
  resolveZones,
  selectionState,
  toggleZones,
  tokenize,
} from "../../web/zone_selection.js";

const data = JSON.parse(readFileSync(new URL("../../web/zone_diagram.json", import.meta.url), "utf8"));
const atlas = makeAtlas(data);
const zonesOf = (text) => resolveZones(text, atlas).zones;
const sorted = (a) => [...a].sort();

test("every selection resolves as Python's resolve_zones did (names, groups, aliases, mixed, errors)", () => {
  assert.ok(data.resolution_examples.length > 40);
  for (const ex of data.resolution_examples) {
    const { zones, unknown } = resolveZones(ex.selection, atlas);
    if (ex.error) {
      assert.ok(unknown.length > 0, `Python rejected ${JSON.stringify(ex.selection)} but JS accepted it`);
    } else {
      assert.deepEqual(unknown, [], `JS rejected ${JSON.stringify(ex.selection)}`);
      assert.deepEqual(zones, ex.zones, `resolution of ${JSON.stringify(ex.selection)}`);
    }
  }
});

test("unknown tokens are reported as typed", () => {
  assert.deepEqual(resolveZones("crows_feet, Bogus;left_eye", atlas), {
    zones: ["crows_feet_left", "crows_feet_right"],
    unknown: ["Bogus", "left_eye"],
  });
});

test("tokenize splits like Python (commas, semicolons, any whitespace)", () => {
  assert.deepEqual(tokenize(" a,b;;c \t d\ne, "), ["a", "b", "c", "d", "e"]);
  assert.deepEqual(tokenize(""), []);
  assert.deepEqual(tokenize(undefined), []);
});

test("otherSide and clickTargets pair the subject's sides", () => {
  assert.equal(otherSide("crows_feet_left", atlas), "crows_feet_right");
  assert.equal(otherSide("eye_right", atlas), "eye_left");
  assert.equal(otherSide("forehead", atlas), null);
  assert.deepEqual(clickTargets("cheek_right", true, atlas), ["cheek_left", "cheek_right"]);
  assert.deepEqual(clickTargets("cheek_right", false, atlas), ["cheek_right"]);
  assert.deepEqual(clickTargets("chin", true, atlas), ["chin"]);
});

test("toggling on appends and writes both sides as their group", () => {
  assert.equal(toggleZones("forehead", ["crows_feet_left", "crows_feet_right"], atlas), "forehead, crows_feet");
  assert.equal(toggleZones("eye_left", ["eye_right"], atlas), "eyes");
  assert.equal(toggleZones("", ["chin"], atlas), "chin");
  assert.equal(toggleZones("Crow's-Feet", ["forehead"], atlas), "Crow's-Feet, forehead"); // user's spelling kept
});

test("toggling off removes the naming token, or splits a group into what remains", () => {
  assert.equal(toggleZones("forehead, chin", ["forehead"], atlas), "chin");
  assert.equal(toggleZones("crows_feet, forehead", ["crows_feet_left"], atlas), "crows_feet_right, forehead");
  assert.equal(toggleZones("tear_trough", ["under_eye_left"], atlas), "under_eye_right"); // alias of a group
  assert.equal(toggleZones("crows_feet", ["crows_feet_left", "crows_feet_right"], atlas), "");
  const rest = zonesOf(toggleZones("all_wrinkle_zones", ["forehead"], atlas));
  assert.deepEqual(rest, data.groups.all_wrinkle_zones.filter((z) => z !== "forehead"));
});

test("unknown tokens survive editing", () => {
  assert.equal(toggleZones("bogus, chin", ["chin"], atlas), "bogus");
  assert.equal(toggleZones("bogus", ["chin"], atlas), "bogus, chin");
});

test("selectionState tells all / some / none", () => {
  const wrinkles = data.groups.all_wrinkle_zones;
  assert.equal(selectionState("all_wrinkle_zones", wrinkles, atlas), "all");
  assert.equal(selectionState("forehead", wrinkles, atlas), "some");
  assert.equal(selectionState("lips", wrinkles, atlas), "none");
  assert.equal(selectionState("crows_feet_left", ["crows_feet_left", "crows_feet_right"], atlas), "some");
});

test("compactPairs merges only two-sided groups given side by side", () => {
  assert.deepEqual(compactPairs(["under_eye_right", "chin", "under_eye_left"], atlas), ["under_eye", "chin"]);
  assert.deepEqual(compactPairs(["forehead", "glabella"], atlas), ["forehead", "glabella"]);
  assert.deepEqual(compactPairs(["nostril_left", "nostril_right"], atlas), ["nostrils"]);
});

test("a toggle changes exactly the toggled zones, for every zone and every valid example selection", () => {
  const selections = data.resolution_examples.filter((e) => !e.error).map((e) => e.selection);
  const zones = [...atlas.zoneNames, ...atlas.extraNames];
  for (const start of selections) {
    const before = new Set(zonesOf(start));
    for (const zone of zones) {
      const after = new Set(zonesOf(toggleZones(start, [zone], atlas)));
      const expected = new Set(before);
      if (before.has(zone)) expected.delete(zone);
      else expected.add(zone);
      assert.deepEqual(sorted(after), sorted(expected), `toggle ${zone} in ${JSON.stringify(start)}`);
      assert.deepEqual(resolveZones(toggleZones(start, [zone], atlas), atlas).unknown, []);
    }
  }
});

test("toggling twice restores the selected zones", () => {
  for (const zone of atlas.zoneNames) {
    const start = "crows_feet, forehead, lips";
    const twice = toggleZones(toggleZones(start, [zone], atlas), [zone], atlas);
    assert.deepEqual(sorted(zonesOf(twice)), sorted(zonesOf(start)), zone);
  }
});

test("addZones and removeZones are no-ops when there is nothing to do", () => {
  assert.equal(addZones("crows_feet", ["crows_feet_left"], atlas), "crows_feet");
  assert.equal(removeZones("crows_feet", ["chin"], atlas), "crows_feet");
});

test("the diagram has geometry for every zone, inside its unit box", () => {
  const [w, h] = data.size;
  assert.equal(Math.max(w, h), 1);
  for (const name of [...atlas.zoneNames, ...atlas.extraNames]) {
    const zone = data.zones[name];
    assert.ok(zone && zone.rings.length > 0, `no outline for ${name}`);
    for (const ring of [...zone.rings, ...zone.holes]) {
      assert.ok(ring.length >= 3, `${name}: ring with ${ring.length} points`);
      for (const [x, y] of ring) assert.ok(x >= 0 && x <= w && y >= 0 && y <= h, `${name}: point ${x},${y} outside`);
    }
  }
  for (const members of Object.values(data.groups)) for (const m of members) assert.ok(atlas.zones.has(m), m);
});
