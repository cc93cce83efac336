// The run form's preset choice and expected duration: choosing a preset fills in the sizes,
// changing a size shows which preset (or "custom") they make, and the estimate line follows both.
import { runEstimate, type PresetSizes, type RunEstimate } from "../api/estimate";
import { errorText, h } from "../ui";
import { CUSTOM, estimateQuery, estimateText, fieldsOf, matchingPreset, sizesOf, type SizeFields } from "./run-estimate";

const FIELD_NAMES: Record<keyof SizeFields, string> = {
  epochs: "epochs",
  stepsPerEpoch: "steps_per_epoch",
  patchSize: "patch_size",
  batchSize: "batch_size",
};
const ESTIMATE_DELAY_MS = 300; // ask again once typing pauses, not at every key

export interface PresetPicker {
  /** The "Preset" label and select, for the form's options area. */
  node: HTMLElement;
  /** The expected-duration line. */
  line: HTMLElement;
  /** The chosen preset's name, or undefined for custom sizes. */
  chosen(): string | undefined;
  /** Take the form whose size fields it fills and follows, and load the presets. */
  attach(form: HTMLFormElement): void;
}

export function presetPicker(projectId: number): PresetPicker {
  const select = h("select", { name: "preset", "data-testid": "preset" }, h("option", { value: CUSTOM }, CUSTOM));
  const line = h("p", { class: "muted", "data-testid": "run-estimate" }, "Expected training time: …");
  let presets: Record<string, PresetSizes> = {};
  let form: HTMLFormElement | null = null;
  let asked = 0; // only the latest question's answer is shown
  let timer: ReturnType<typeof setTimeout> | undefined;

  const input = (key: keyof SizeFields): HTMLInputElement | null =>
    form?.elements.namedItem(FIELD_NAMES[key]) as HTMLInputElement | null;
  const sizes = (): PresetSizes =>
    sizesOf({
      epochs: Number(input("epochs")?.value),
      stepsPerEpoch: Number(input("stepsPerEpoch")?.value),
      patchSize: Number(input("patchSize")?.value),
      batchSize: Number(input("batchSize")?.value),
    });
  const fill = (name: string): void => {
    const fields = fieldsOf(presets[name]);
    for (const key of Object.keys(FIELD_NAMES) as (keyof SizeFields)[]) {
      const field = input(key);
      if (field) field.value = String(fields[key]);
    }
  };
  const show = async (): Promise<void> => {
    const question = ++asked;
    try {
      const answer = await runEstimate(projectId, estimateQuery(select.value, sizes()));
      if (question === asked) line.textContent = estimateText(answer);
    } catch (error) {
      if (question === asked) line.textContent = `Expected training time: ${errorText(error)}`;
    }
  };
  const later = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void show(), ESTIMATE_DELAY_MS);
  };
  const offer = (first: RunEstimate): void => {
    presets = first.presets;
    select.replaceChildren(...[...Object.keys(presets), CUSTOM].map((name) => h("option", { value: name }, name)));
    select.value = first.default_preset;
    fill(first.default_preset);
    line.textContent = estimateText(first);
  };

  select.addEventListener("change", () => {
    if (select.value !== CUSTOM) fill(select.value);
    later();
  });
  return {
    node: h("label", {}, "Preset ", select),
    line,
    chosen: () => (select.value === CUSTOM ? undefined : select.value),
    attach(target) {
      form = target;
      target.addEventListener("input", (event) => {
        if (event.target === select) return;
        select.value = matchingPreset(sizes(), presets);
        later();
      });
      runEstimate(projectId)
        .then(offer)
        .catch((error) => (line.textContent = `Expected training time: ${errorText(error)}`));
    },
  };
}
