// The run form's preset choice and expected duration: choosing a preset fills in the sizes,
// changing a size shows which preset (or "custom") they make, and the estimate line follows both.
import { runEstimate, type PresetSizes, type RunEstimate, type TagStageQuery } from "../api/estimate";
import { errorText, h } from "../ui";
import { CUSTOM, estimateQuery, estimateText, fieldsOf, matchingPreset, sizesOf, type SizeFields } from "./run-estimate";

const FIELD_NAMES: Record<keyof SizeFields, string> = {
  epochs: "epochs",
  stepsPerEpoch: "steps_per_epoch",
  patchSize: "patch_size",
  batchSize: "batch_size",
};
const KEYS = Object.keys(FIELD_NAMES) as (keyof SizeFields)[];
// The strategy and a tags run's options (run-form.ts): a tags run's estimate adds its classifier and maps.
const TAG_FIELDS = ["strategy", "tag_class", "tile", "classifier_steps"];
const ESTIMATE_DELAY_MS = 300; // ask again once typing pauses, not at every key

/** The form's size inputs (found by name): read, written, and whether an event is theirs. */
function sizeInputs(form: HTMLFormElement) {
  const input = (key: keyof SizeFields) => form.elements.namedItem(FIELD_NAMES[key]) as HTMLInputElement | null;
  const inputs = KEYS.map(input);
  const value = (key: keyof SizeFields): number => Number(input(key)?.value);
  return {
    read: (): PresetSizes =>
      sizesOf({ epochs: value("epochs"), stepsPerEpoch: value("stepsPerEpoch"), patchSize: value("patchSize"), batchSize: value("batchSize") }),
    write(sizes: PresetSizes): void {
      const fields = fieldsOf(sizes);
      for (const key of KEYS) {
        const field = input(key);
        if (field) field.value = String(fields[key]);
      }
    },
    owns: (target: EventTarget | null): boolean => inputs.some((one) => one !== null && one === target),
  };
}

/** The form's tags-run options when its strategy is "tags", else undefined. */
function tagStage(form: HTMLFormElement): TagStageQuery | undefined {
  const value = (name: string): string => (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? "";
  if (value("strategy") !== "tags") return undefined;
  return {
    strategy: "tags",
    tag_class: Number(value("tag_class")),
    tile: Number(value("tile")),
    classifier_steps: Number(value("classifier_steps")),
  };
}

const isTagField = (target: EventTarget | null): boolean =>
  target instanceof HTMLElement && TAG_FIELDS.includes(target.getAttribute("name") ?? "");

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
  const failed = (error: unknown) => (line.textContent = `Expected training time: ${errorText(error)}`);
  let presets: Record<string, PresetSizes> = {};
  let fields: ReturnType<typeof sizeInputs> | null = null;
  let tags: () => TagStageQuery | undefined = () => undefined;
  let edited = false; // sizes typed before the presets came are kept, not overwritten
  let asked = 0; // only the latest question's answer is shown
  let timer: ReturnType<typeof setTimeout> | undefined;

  const show = async (): Promise<void> => {
    if (!fields) return;
    const question = ++asked;
    const stage = tags();
    try {
      const answer = await runEstimate(projectId, estimateQuery(select.value, fields.read(), stage));
      if (question === asked) line.textContent = estimateText(answer, stage !== undefined);
    } catch (error) {
      if (question === asked) failed(error);
    }
  };
  const later = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void show(), ESTIMATE_DELAY_MS);
  };
  const offer = (first: RunEstimate): void => {
    presets = first.presets;
    select.replaceChildren(...[...Object.keys(presets), CUSTOM].map((name) => h("option", { value: name }, name)));
    if (edited && fields) {
      select.value = matchingPreset(fields.read(), presets);
      return later();
    }
    select.value = first.default_preset;
    fields?.write(presets[first.default_preset]);
    line.textContent = estimateText(first);
  };
  select.addEventListener("change", () => {
    if (select.value !== CUSTOM) fields?.write(presets[select.value]);
    later();
  });
  return {
    node: h("label", {}, "Preset ", select),
    line,
    chosen: () => (select.value === CUSTOM ? undefined : select.value),
    attach(form) {
      const own = sizeInputs(form);
      fields = own;
      tags = () => tagStage(form);
      for (const kind of ["input", "change"]) {
        form.addEventListener(kind, (event) => {
          if (isTagField(event.target)) later();
        });
      }
      form.addEventListener("input", (event) => {
        if (!own.owns(event.target)) return;
        edited = true;
        select.value = matchingPreset(own.read(), presets);
        later();
      });
      runEstimate(projectId).then(offer).catch(failed);
    },
  };
}
