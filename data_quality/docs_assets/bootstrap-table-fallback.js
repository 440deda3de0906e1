/* A stand-in for bootstrap-table, which no PyPI package ships: draws the Data Docs index tables
   (GX's columns, data, sort, row style/attributes and click-row.bs.table event) as plain Bootstrap
   tables, without bootstrap-table's search box, filter row or pagination. */
(function ($) {
  "use strict";

  function hook(name, args) {
    var fn = typeof name === "function" ? name : window[name];
    return (typeof fn === "function" && fn.apply(null, args)) || {};
  }

  $.fn.bootstrapTable = function (options) {
    if (typeof options !== "object") {
      return this; // a method call (clearFilterControl, resetSearch): there are no filters to reset
    }
    $(options.toolbar).hide(); // its one button clears filters
    return this.each(function () {
      var $table = $(this).addClass("table table-hover");
      var columns = options.columns || [];
      var rows = (options.data || []).slice();
      var sorted = columns.filter(function (c) { return c.field === options.sortName; })[0];
      var key = (sorted && sorted.sortName) || options.sortName;
      if (key) {
        rows.sort(function (a, b) { return a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0; });
        if (options.sortOrder === "desc") rows.reverse();
      }
      var $head = $("<tr>");
      columns.forEach(function (c) { $head.append($("<th>").text(c.title || c.field).css("text-align", c.align || "")); });
      var $body = $("<tbody>");
      rows.forEach(function (row, i) {
        var style = hook(options.rowStyle, [row, i]);
        var $tr = $("<tr>").attr(hook(options.rowAttributes, [row, i])).css(style.css || {}).addClass(style.classes || "");
        columns.forEach(function (c) {
          $tr.append($("<td>").html(row[c.field] == null ? "" : String(row[c.field])).css("text-align", c.align || ""));
        });
        $tr.on("click", function () { $table.trigger("click-row.bs.table", [row, $tr]); });
        $body.append($tr);
      });
      $table.empty().append($("<thead>").append($head), $body);
    });
  };
})(jQuery);
