// Gegevensset form, progressive enhancement of the field picker (the form works without this):
// - a search box that shows only the fields whose path contains the text;
// - ticking a group ticks the fields inside it (the group allows them all); unticking a field
//   unticks the groups above it, so what is shown ticked is what will be allowed.
(function () {
  "use strict";

  var picker = document.querySelector("[data-field-picker]");
  if (!picker) {
    return;
  }
  var items = Array.prototype.slice.call(picker.querySelectorAll("li[data-field]"));
  var groups = Array.prototype.slice.call(picker.querySelectorAll("[data-field-group]"));
  var details = Array.prototype.slice.call(picker.querySelectorAll("details"));
  var initiallyOpen = details.map(function (d) { return d.open; });

  function ownBox(item) {
    return item.querySelector(":scope > input[type=checkbox]");
  }

  // Ticking: a box's own item holds the boxes below it; its ancestors' items hold the groups above.
  picker.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") {
      return;
    }
    var item = box.closest("li[data-field]");
    if (!item || ownBox(item) !== box) {
      return;
    }
    item.querySelectorAll("li[data-field] > input[type=checkbox]").forEach(function (inner) {
      inner.checked = box.checked;
    });
    if (!box.checked) {
      var above = item.parentElement ? item.parentElement.closest("li[data-field]") : null;
      while (above) {
        var group = ownBox(above);
        if (group) {
          group.checked = false;
        }
        above = above.parentElement ? above.parentElement.closest("li[data-field]") : null;
      }
    }
  });

  // Searching: show matches and the items around them; open the groups that hold a match.
  var search = picker.querySelector("[data-field-search]");
  var input = search ? search.querySelector("input[type=search]") : null;
  var count = search ? search.querySelector("[data-field-count]") : null;
  if (!search || !input) {
    return;
  }
  search.hidden = false;

  function filter() {
    var text = input.value.trim().toLowerCase();
    if (!text) {
      items.forEach(function (item) { item.hidden = false; });
      groups.forEach(function (group) { group.hidden = false; });
      details.forEach(function (d, i) { d.open = initiallyOpen[i]; });
      if (count) {
        count.textContent = "";
      }
      return;
    }
    var shown = 0;
    items.forEach(function (item) {
      item.hidden = true;
    });
    items.forEach(function (item) {
      if (item.getAttribute("data-field").toLowerCase().indexOf(text) === -1) {
        return;
      }
      shown += 1;
      // The match, everything below it, and every item and group above it stay visible.
      item.hidden = false;
      item.querySelectorAll("li[data-field]").forEach(function (inner) { inner.hidden = false; });
      var node = item.parentElement;
      while (node && node !== picker) {
        if (node.matches("li[data-field]")) {
          node.hidden = false;
        }
        if (node.tagName === "DETAILS") {
          node.open = true;
        }
        node = node.parentElement;
      }
    });
    groups.forEach(function (group) {
      group.hidden = !group.querySelector("li[data-field]:not([hidden])");
    });
    if (count) {
      count.textContent = shown === 1 ? "1 veld gevonden" : shown + " velden gevonden";
    }
  }

  input.addEventListener("input", filter);
  // Enter in the search box must not send the form.
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
    }
  });
})();
