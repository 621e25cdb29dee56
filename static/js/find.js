/* Find: ask for the position only on the button, then search from it; show the map. */
(function () {
  var form = document.getElementById("find-form");
  var button = document.getElementById("use-location");
  var status = document.getElementById("location-status");
  if (button && form) {
    if (!("geolocation" in navigator)) {
      button.hidden = true;
      status.textContent = "Your browser cannot share its position: type a place below.";
    }
    button.addEventListener("click", function () {
      status.textContent = "Asking your browser for your position…";
      navigator.geolocation.getCurrentPosition(
        function (position) {
          form.elements.lat.value = position.coords.latitude.toFixed(6);
          form.elements.lon.value = position.coords.longitude.toFixed(6);
          form.elements.place.value = "";
          form.submit();
        },
        function () {
          status.textContent = "We could not get your position. Type a place as latitude, longitude.";
          form.elements.place.focus();
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }
  var data = document.getElementById("map-data");
  if (!data) return;
  window.addEventListener("load", function () {
    var info = JSON.parse(data.textContent);
    var map = window.sightlineMap([info.here.lat, info.here.lon], 13);
    if (!map) return;
    L.circleMarker([info.here.lat, info.here.lon], { radius: 7, color: "#0b5fff" })
      .addTo(map).bindTooltip("You");
    var bounds = [[info.here.lat, info.here.lon]];
    info.markers.forEach(function (marker) {
      var link = document.createElement("a");
      link.href = marker.url;
      link.textContent = marker.title;
      L.circleMarker([marker.lat, marker.lon], { radius: 9, color: "#b34700" }).addTo(map).bindPopup(link);
      bounds.push([marker.lat, marker.lon]);
    });
    if (bounds.length > 1) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
  });
})();
