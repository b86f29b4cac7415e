// The parents' guide: a button that opens the browser's print dialog. Without JavaScript the
// button stays hidden and the browser's own Print does the same (the print styles apply).
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
});
