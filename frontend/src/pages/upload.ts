// The project's upload box: drop (or pick) files; one request with a progress bar and the server's
// verdict. A multi-page TIFF without metadata is not guessed at: the server refuses it until it is
// told what the pages are, so the box asks (channels, z-planes or time points) and sends the same
// files again with that answer. Any other refusal (an unsupported format…) shows the server's message.
import { needsPages, uploadImages, type ImageSummary, type PagesAre } from "../api/images";
import { dropZone, errorText, h, messageLine } from "../ui";

const PAGE_ANSWERS: [PagesAre, string][] = [
  ["channels", "channels"],
  ["z", "z-planes"],
  ["t", "time points"],
];

/** "Its pages are: [channels] [z-planes] [time points] [cancel]": calls `answer` with the choice (null: cancel). */
function pagesQuestion(answer: (pages: PagesAre | null) => void): HTMLElement {
  return h(
    "div",
    { class: "pages-question", "data-testid": "pages-question" },
    h("span", {}, "The pages are "),
    ...PAGE_ANSWERS.map(([value, text]) => h("button", { type: "button", "data-pages": value, onclick: () => answer(value) }, text)),
    h("button", { type: "button", onclick: () => answer(null) }, "cancel"),
  );
}

export function uploader(projectId: number, added: (images: ImageSummary[]) => void): HTMLElement {
  const input = h("input", { type: "file", multiple: true, accept: ".png,.tif,.tiff,.jpg,.jpeg,.czi,.nd2", "data-testid": "upload-input" });
  const bar = h("progress", { max: 1, value: 0, hidden: true });
  const message = messageLine();
  const question = h("div", {});
  const zone = h(
    "div",
    { class: "drop-zone", "data-testid": "drop-zone" },
    h("span", {}, "Drop images here (PNG, JPEG, TIFF, OME-TIFF, CZI, ND2; one file per image or per channel) or "),
    input,
    bar,
    message.node,
    question,
  );

  function ask(files: File[]): void {
    message.info(`${files.map((f) => f.name).join(", ")}: several pages and no metadata saying what they are.`);
    question.replaceChildren(
      pagesQuestion((pages) => {
        question.replaceChildren();
        if (pages) void send(files, pages);
        else message.info("Nothing was added.");
      }),
    );
  }

  async function send(files: File[], pages?: PagesAre): Promise<void> {
    if (!files.length) return;
    question.replaceChildren();
    bar.hidden = false;
    bar.value = 0;
    message.info(`Uploading ${files.length} file(s)…`);
    try {
      const images = await uploadImages(
        projectId,
        files,
        (fraction) => {
          bar.value = fraction;
          if (fraction >= 1) message.info("Reading the images on the server…");
        },
        pages,
      );
      message.info(`Added ${images.map((image) => image.name).join(", ")}.`);
      added(images);
    } catch (error) {
      if (!pages && needsPages(error)) ask(files);
      else message.error(`Nothing was added: ${errorText(error)}`);
    } finally {
      bar.hidden = true;
      input.value = "";
    }
  }

  input.addEventListener("change", () => void send([...(input.files ?? [])]));
  dropZone(zone, (data) => void send([...data.files]));
  return zone;
}
