#!/usr/bin/env bash
# The Debian package, end to end, without root and without touching the machine's /usr:
#   1. cpack builds mdbus_<version>_amd64.deb from this build;
#   2. its contents list and control fields are checked (binaries, public headers under
#      include/mdbus only, CMake package, pkg-config, unit, Depends from the shlibs);
#   3. it is unpacked into a staging root (dpkg-deb -x), and its unit passes systemd-analyze verify;
#   4. examples/strategy-template is built against the staging root alone, with CMake
#      (find_package(mdbus)) and with pkg-config, and against a `cmake --install` under DESTDIR
#      to another prefix (/opt/mdbus);
#   5. a bus is run from the package's own binaries (exsim, mdsupervisor, which starts the
#      package's mdfeed and mdmerge) and both builds of the strategy read trades from it; the bus
#      is stopped and started anew under a running strategy, which maps the new ring and reads on.
# usage: package_test.sh <build dir> <source dir> <work dir> <certificate dir>
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd) work=$3 certs=$(cd "$4" && pwd)
rm -rf "$work"; mkdir -p "$work"; work=$(cd "$work" && pwd)
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }
step() { echo "package_test: $*"; }

bus="pkgtest-$$-$RANDOM"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  # A feeder or merger the supervisor left behind: programs of the staging root only.
  [ -z "${stage:-}" ] || pkill -KILL -f "^$(sed 's/[][\.*^$()+?{}|]/\\&/g' <<< "$stage")/usr/bin/" 2>/dev/null || true
  rm -f /dev/shm/mdbus."$bus".*
}
trap cleanup EXIT

# 1. The package.
step "cpack -G DEB"
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" > "$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log"; fail "cpack"; }
debs=("$work"/pkg/mdbus_*_amd64.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one mdbus_<version>_amd64.deb in $work/pkg: ${debs[*]}"
deb=${debs[0]}
step "built $(basename "$deb") ($(du -k "$deb" | cut -f1) kB)"

# 2. Contents and control fields.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#' > "$work/contents.txt"
# The library folder: /usr/lib, or /usr/lib/<multiarch> when the build's prefix was /usr.
libdir=$(grep -m1 '/libmdbus_consumer\.a$' "$work/contents.txt" | xargs -r dirname)
[ -n "$libdir" ] || fail "the package has no libmdbus_consumer.a"
for f in /usr/bin/mdsupervisor /usr/bin/mdfeed /usr/bin/mdmerge /usr/bin/mdctl /usr/bin/shmcat /usr/bin/mdrecord \
         /usr/bin/mdreplay /usr/bin/mdbridge /usr/bin/exsim \
         /usr/include/mdbus/consumer.hpp /usr/include/mdbus/records.hpp /usr/include/mdbus/order_book.hpp \
         /usr/include/mdbus/venues/registry.hpp "$libdir/libmdbus_consumer.a" "$libdir/libmdbus_bus.a" \
         "$libdir/cmake/mdbus/mdbusConfig.cmake" "$libdir/cmake/mdbus/mdbusConfigVersion.cmake" \
         "$libdir/cmake/mdbus/mdbusTargets.cmake" "$libdir/pkgconfig/mdbus.pc" \
         /usr/lib/systemd/system/mdsupervisor@.service /usr/lib/sysusers.d/mdbus.conf \
         /usr/share/mdbus/config/sim.json /usr/share/mdbus/config/live.json /usr/share/doc/mdbus/README.md \
         /usr/share/doc/mdbus/ARCHITECTURE.md /usr/share/doc/mdbus/examples/strategy-template/CMakeLists.txt; do
  grep -qxF "$f" "$work/contents.txt" || fail "the package lacks $f"
done
# Headers: only under include/mdbus/.
if grep -E '^/usr/include/' "$work/contents.txt" | grep -vE '^/usr/include/(mdbus/.*)?$' | grep -q .; then
  fail "headers outside /usr/include/mdbus: $(grep -E '^/usr/include/' "$work/contents.txt" | grep -vE '^/usr/include/(mdbus/.*)?$' | tr '\n' ' ')"
fi
depends=$(dpkg-deb -f "$deb" Depends)
step "Depends: $depends"
# libwebsockets is linked statically (Debian ships its .a), so it is no runtime dependency.
for d in libc6 libstdc++6 libssl3 libnats libsimdjson libzstd1 passwd; do
  [[ "$depends" == *"$d"* ]] || fail "Depends lacks $d (from the shlibs): $depends"
done
[ "$(dpkg-deb -f "$deb" Package)" = mdbus ] || fail "package name"
[ "$(dpkg-deb -f "$deb" Architecture)" = amd64 ] || fail "architecture"
dpkg-deb -e "$deb" "$work/control"
for s in postinst prerm postrm; do
  [ -x "$work/control/$s" ] || fail "control script $s missing or not executable"
  sh -n "$work/control/$s" || fail "control script $s: syntax"
done

# 3. The staging root, and the unit.
stage=$work/root
dpkg-deb -x "$deb" "$stage"
# What a strategy includes never pulls in the feeders' libraries or a header that is not installed.
if grep -rhoE '#include [<"][^>"]+[>"]' "$stage/usr/include/mdbus" | grep -E 'libwebsockets|simdjson|feeders/|"bus/|"consumers/|"tools/'; then
  fail "an installed header includes one of the above"
fi
for inc in $(grep -rhoE '#include "mdbus/[^"]+"' "$stage/usr/include/mdbus" | sed 's/#include "//; s/"$//' | sort -u); do
  [ -f "$stage/usr/include/$inc" ] || fail "installed headers include $inc, which is not installed"
done
unit=$stage/usr/lib/systemd/system/mdsupervisor@.service
grep -qx "ExecStart=/usr/bin/mdsupervisor --config /etc/mdbus/%i.json --bus %i" "$unit" || fail "ExecStart of the unit: $(grep ExecStart= "$unit")"
step "systemd-analyze verify mdsupervisor@$bus.service"
# verify loads the unit's dependencies (sysinit.target, network-online.target) and checks that
# every command it runs exists: in a root made of the machine's own units and a shell, with the
# package on top, so it is the package's mdsupervisor it finds.
vroot=$work/verify-root
mkdir -p "$vroot/usr/bin" "$vroot/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$vroot/usr/lib/systemd/"
cp -a "$stage/." "$vroot/"
ln -s usr/bin "$vroot/bin"
cp -L /bin/sh "$vroot/usr/bin/sh"
systemd-analyze verify --root="$vroot" "/usr/lib/systemd/system/mdsupervisor@$bus.service" > "$work/verify.log" 2>&1 ||
  { cat "$work/verify.log"; fail "systemd-analyze verify"; }
# An unknown or misspelt directive is only a warning (exit 0): any output fails the test.
if grep -q . "$work/verify.log"; then cat "$work/verify.log"; fail "systemd-analyze verify printed warnings"; fi

# 4. The template strategy, out of tree, against the staging root only.
step "examples/strategy-template: cmake with find_package(mdbus) from the staging root"
# Copied out of the tree first, as a user starts a repository from it: nothing may reach back.
cp -r "$src/examples/strategy-template" "$work/template"
cmake -S "$work/template" -B "$work/strategy" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$stage/usr" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF > "$work/strategy-cmake.log" 2>&1 ||
  { cat "$work/strategy-cmake.log"; fail "configuring the template"; }
grep -q "mdbus_DIR:PATH=$stage$libdir/cmake/mdbus" "$work/strategy/CMakeCache.txt" || fail "find_package(mdbus) found $(grep mdbus_DIR "$work/strategy/CMakeCache.txt")"
cmake --build "$work/strategy" > "$work/strategy-build.log" 2>&1 || { cat "$work/strategy-build.log"; fail "building the template"; }
# (The work folder may lie inside the build tree, inside the source tree: look for its folders.)
if grep -qE "$src/(bus|consumers|feeders|tools)|-I$src( |$)" "$work/strategy/build.ninja"; then
  fail "the template's build reaches into the source tree"
fi
if grep -qiE 'warning' "$work/strategy-build.log"; then cat "$work/strategy-build.log"; fail "the template builds with warnings"; fi
step "examples/strategy-template: g++ with pkg-config"
pc() { PKG_CONFIG_PATH="$stage$libdir/pkgconfig" PKG_CONFIG_LIBDIR="$stage$libdir/pkgconfig" pkg-config "$@" mdbus; }
pc_flags=$(pc --cflags --libs)
# mdbus.pc finds its prefix from its own place (${pcfiledir}): relocated with the staging root.
[ "$(realpath "$(pc --variable=includedir)")" = "$stage/usr/include" ] || fail "pkg-config includedir is not the staging root's: $pc_flags"
# shellcheck disable=SC2086
g++ -std=c++20 -O2 -Wall -Wextra "$work/template/main.cpp" $pc_flags -o "$work/strategy-pc" 2> "$work/strategy-pc.log" ||
  { cat "$work/strategy-pc.log"; fail "pkg-config build"; }

# 4b. A plain `cmake --install` under DESTDIR to another prefix: the CMake package is relocatable
#     and the unit names that prefix's binaries.
step "cmake --install with DESTDIR and prefix /opt/mdbus; the template against it"
DESTDIR="$work/destdir" cmake --install "$build" --prefix /opt/mdbus > "$work/install.log" 2>&1 || { cat "$work/install.log"; fail "cmake --install"; }
grep -qx "ExecStart=/opt/mdbus/bin/mdsupervisor --config /etc/mdbus/%i.json --bus %i" \
  "$work/destdir/opt/mdbus/lib/systemd/system/mdsupervisor@.service" || fail "the unit of a /opt/mdbus install"
cmake -S "$work/template" -B "$work/strategy-opt" -G Ninja -DCMAKE_PREFIX_PATH="$work/destdir/opt/mdbus" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF > "$work/strategy-opt.log" 2>&1 && cmake --build "$work/strategy-opt" >> "$work/strategy-opt.log" 2>&1 ||
  { cat "$work/strategy-opt.log"; fail "the template against the DESTDIR install"; }
grep -qE "mdbus_DIR:PATH=$work/destdir/opt/mdbus/lib(/[^/]+)?/cmake/mdbus" "$work/strategy-opt/CMakeCache.txt" || fail "find_package(mdbus) under DESTDIR"
rm -rf "$work/destdir"   # 150 MB of unstripped programs

# 5. A bus from the package's binaries.
bin=$stage/usr/bin
step "exsim and mdsupervisor from the package, bus $bus"
"$bin/exsim" --port 0 --control-port 0 --binance-rest-port 0 --okx-rest-port 0 --usdm-rest-port -1 --rate 300 --seed 3 \
  --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" > "$work/exsim.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -q EXSIM_READY "$work/exsim.log" && break; sleep 0.1; done
ready=$(grep EXSIM_READY "$work/exsim.log") || { cat "$work/exsim.log"; fail "exsim did not start"; }
port() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<< "$ready"; }
ep() { echo "{\"host\": \"127.0.0.1\", \"port\": $1, \"tls\": true, \"ca_file\": \"$certs/ca.pem\", \"server_name\": \"localhost\"}"; }
cat > "$work/bus.json" <<JSON
{
  "bus": "$bus",
  "rings": {"feeder_bytes": 4194304, "output_bytes": 16777216},
  "supervisor": {"control_socket": "$work/ctl.sock", "metrics_port": 0},
  "venues": {
    "binance": {"endpoint": $(ep "$(port venue_port)"), "rest_endpoint": $(ep "$(port binance_rest_port)"),
                "symbols": ["BTCUSDT", "ETHUSDT"], "channels": ["trade", "depth@100ms"], "slots": ["A", "B"]},
    "okx": {"endpoint": $(ep "$(port venue_port)"), "rest_endpoint": $(ep "$(port okx_rest_port)"),
            "symbols": ["BTC-USDT", "ETH-USDT"], "channels": ["trades", "bbo-tbt"], "slots": ["A", "B"]}
  }
}
JSON
# The unit's --bus: a config naming another bus is refused before anything starts.
set +e
"$bin/mdsupervisor" --config "$work/bus.json" --bus "not-$bus" > "$work/refused.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "\"bus\" is \"$bus\", --bus says \"not-$bus\": refused" "$work/refused.log" ||
  { cat "$work/refused.log"; fail "mdsupervisor --bus with another bus: exit $rc"; }
"$bin/mdsupervisor" --config "$work/bus.json" --bus "$bus" > "$work/supervisor.log" 2>&1 &
sup=$!
pids=("$sup" "${pids[@]}")   # stopped first: it stops its feeders and the merger
for _ in $(seq 200); do grep -q MDSUPERVISOR_READY "$work/supervisor.log" && break; sleep 0.1; done
grep -q MDSUPERVISOR_READY "$work/supervisor.log" || { cat "$work/supervisor.log"; fail "mdsupervisor did not start"; }
# Its children are the package's: mdfeed and mdmerge beside it in the staging root.
for _ in $(seq 100); do [ "$(pgrep -f "^$bin/mdfeed " | wc -l)" -ge 4 ] && break; sleep 0.1; done
[ "$(pgrep -f "^$bin/mdfeed " | wc -l)" -eq 4 ] || fail "expected 4 mdfeed processes from $bin: $(pgrep -af mdfeed)"
pgrep -f "^$bin/mdmerge " > /dev/null || fail "no mdmerge from $bin: $(pgrep -af mdmerge)"

step "the template strategy reads the bus"
"$work/strategy/strategy" --bus "$bus" --records 400 --seconds 30 > "$work/strategy.out" 2>&1 ||
  { cat "$work/strategy.out"; fail "strategy exit $?"; }
cat "$work/strategy.out"
grep -q "^strategy: 400 records" "$work/strategy.out" || fail "the strategy did not read 400 records"
grep -qE '^binance +BTCUSDT +trades [1-9]' "$work/strategy.out" || fail "no Binance BTCUSDT trade"
grep -qE '^okx +BTC-USDT +trades [0-9]+ .* bid [0-9]' "$work/strategy.out" || fail "no OKX BTC-USDT best bid"
"$work/strategy-pc" --bus "$bus" --records 100 --seconds 30 --venue okx > "$work/strategy-pc.out" 2>&1 ||
  { cat "$work/strategy-pc.out"; fail "pkg-config strategy"; }
grep -q "^strategy: 100 records" "$work/strategy-pc.out" || fail "the pkg-config strategy did not read 100 records"
if grep -q '^binance' "$work/strategy-pc.out"; then fail "--venue okx let Binance records through"; fi
"$bin/mdctl" --socket "$work/ctl.sock" status > "$work/mdctl.out" 2>&1 || { cat "$work/mdctl.out"; fail "mdctl status"; }
[ "$(grep -cE '^ *(binance|okx)/[AB] .* live' "$work/mdctl.out")" -eq 4 ] || { cat "$work/mdctl.out"; fail "mdctl status: 4 live slots"; }

stop_bus() {  # a clean stop removes the bus's segments
  kill -TERM "$sup"
  for _ in $(seq 300); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$sup" 2>/dev/null || fail "mdsupervisor did not stop in 30 s"
  if ls /dev/shm/mdbus."$bus".* > /dev/null 2>&1; then fail "segments left after the stop: $(ls /dev/shm/mdbus."$bus".*)"; fi
}

# The bus stopped and started anew under a running strategy: it maps the new ring and reads on.
step "the bus restarted under a running strategy"
"$work/strategy/strategy" --bus "$bus" --records 1000 --seconds 120 > "$work/strategy-restart.out" 2>&1 &
strat=$!
pids+=("$strat")
for _ in $(seq 100); do grep -q '^strategy: reading' "$work/strategy-restart.out" && break; sleep 0.1; done
grep -q '^strategy: reading' "$work/strategy-restart.out" || { cat "$work/strategy-restart.out"; fail "strategy did not start"; }
stop_bus
"$bin/mdsupervisor" --config "$work/bus.json" --bus "$bus" > "$work/supervisor2.log" 2>&1 &
sup=$!
pids=("$sup" "${pids[@]}")
for _ in $(seq 200); do grep -q MDSUPERVISOR_READY "$work/supervisor2.log" && break; sleep 0.1; done
grep -q MDSUPERVISOR_READY "$work/supervisor2.log" || { cat "$work/supervisor2.log"; fail "mdsupervisor did not start again"; }
set +e; wait "$strat"; rc=$?; set -e
cat "$work/strategy-restart.out"
[ "$rc" -eq 0 ] || fail "strategy across the restart: exit $rc"
grep -q "was made anew (the bus restarted): mapping the new ring" "$work/strategy-restart.out" || fail "the strategy did not map the new ring"
grep -q "^strategy: 1000 records" "$work/strategy-restart.out" || fail "the strategy did not read on after the restart"

stop_bus
step "PASS"
