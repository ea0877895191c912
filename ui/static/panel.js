// The source panel's script (gr.HTML js_on_load: `element`, `trigger` and `watch` are given).
// A click on an answer's [n] link, or on a card's "Open full entry" / "Back to sources" button,
// becomes a 'click' event of the panel carrying what was clicked; the server renders the panel.
// [n] links are real links (focusable; Enter activates them), so this also serves the keyboard.
window.kbqaTrigger = trigger;
if (!window.kbqaCiteListener) {
  window.kbqaCiteListener = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest ? event.target.closest("a.kbqa-cite") : null;
    if (!link) return;
    const m = /kbqa-cite-(\d+)-(\d+)$/.exec(link.getAttribute("href") || "");
    if (!m) return;
    event.preventDefault();
    window.kbqaTrigger("click", { action: "cite", turn: Number(m[1]), n: Number(m[2]) });
  });
}
element.addEventListener("click", (event) => {
  const button = event.target.closest("button.kbqa-open-entry, button.kbqa-back");
  if (!button) return;
  const action = button.classList.contains("kbqa-back") ? "cite" : "entry";
  trigger("click", { action, turn: Number(button.dataset.turn), n: Number(button.dataset.n) });
});
// After the server renders a selected card (or an entry), bring it into view and give it focus.
watch("value", () => {
  const holder = element.querySelector("[data-selected]");
  if (!holder) return;
  const target = element.querySelector("#" + CSS.escape(holder.dataset.selected));
  if (!target) return;
  const mark = target.querySelector("mark") || target;
  mark.scrollIntoView({ block: "center" });
  const focusable = target.matches("details") ? target.querySelector("summary") : target;
  focusable.focus({ preventScroll: true });
});
