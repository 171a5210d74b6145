// Sorting and filtering of the report's tables: plain JavaScript, embedded in the file, no network.
"use strict";
(function () {
  function cellKey(cell) {
    // Numbers carry their value in data-sort; everything else sorts as text.
    if (cell.hasAttribute("data-sort")) {
      const value = parseFloat(cell.getAttribute("data-sort"));
      return { number: true, value: isNaN(value) ? Infinity : value };
    }
    return { number: false, value: cell.textContent.trim().toLowerCase() };
  }

  function compare(a, b) {
    if (a.number && b.number) return a.value - b.value;
    if (a.number !== b.number) return a.number ? -1 : 1;  // numbers before empty / text cells
    return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  }

  function sortTable(table, column, header) {
    const body = table.tBodies[0];
    const descending = header.getAttribute("aria-sort") === "ascending";
    const rows = Array.from(body.rows).map(function (row, index) {
      return { row: row, key: cellKey(row.cells[column]), index: index };
    });
    rows.sort(function (x, y) {
      const order = compare(x.key, y.key);
      return (descending ? -order : order) || x.index - y.index;  // stable
    });
    rows.forEach(function (item) { body.appendChild(item.row); });
    Array.from(header.parentNode.cells).forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  function filterTable(block, query) {
    const table = block.querySelector("table.data");
    const count = block.querySelector(".count");
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    Array.from(table.tBodies[0].rows).forEach(function (row) {
      const text = row.textContent.toLowerCase();
      const keep = words.every(function (word) { return text.indexOf(word) !== -1; });
      row.hidden = !keep;
      if (keep) shown += 1;
    });
    if (count) {
      const total = count.getAttribute("data-total");
      count.textContent = words.length ? shown + " of " + total + " rows match" : count.getAttribute("data-initial");
    }
  }

  document.querySelectorAll(".table-block").forEach(function (block) {
    const table = block.querySelector("table.data");
    Array.from(table.tHead.rows[0].cells).forEach(function (header, column) {
      header.addEventListener("click", function () { sortTable(table, column, header); });
    });
    const count = block.querySelector(".count");
    if (count) count.setAttribute("data-initial", count.textContent);
    const input = block.querySelector("input.filter");
    if (input) input.addEventListener("input", function () { filterTable(block, input.value); });
  });
})();
