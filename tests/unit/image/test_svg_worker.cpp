// SVGs render in clipdex-svg-worker processes: a librsvg panic or a runaway render fails that one
// image with a clear error, this process lives on, and the pixels are the in-process renderer's.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <thread>

#include "clipdex/error.h"
#include "../error_of.h"
#include "image/image.h"
#include "image/worker/render_svg.h"

namespace ci = clipdex::image;
namespace fs = std::filesystem;
using clipdex::ErrorCode;
using Clock = std::chrono::steady_clock;

namespace {

const fs::path kCorpus = fs::path(CLIPDEX_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "image";
const fs::path kTwemoji =
    fs::path(CLIPDEX_SOURCE_DIR) / ".cache" / "npm" / "node_modules" / "@twemoji" / "svg";

std::vector<uint8_t> read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::span<const uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const std::string kGoodSvg =
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 20 10'><rect width='10' height='10' "
    "fill='#00f'/></svg>";

void expect_good_svg_renders() {
    const auto img = ci::decode_image(as_bytes(kGoodSvg), "good.svg");
    EXPECT_EQ(img.width, 448);
    EXPECT_EQ(img.height, 224);
    EXPECT_EQ(img.rgb[2], 255);
}

}  // namespace

// Finding 1 of issue #12: this aborted every clipdex process (a Rust panic in librsvg 2.54).
TEST(SvgWorker, PanickingSvgIsAnErrorAndThisProcessLivesOn) {
    const auto bytes = read_bytes(kCorpus / "svg_convolve_order21_panic.svg");
    ASSERT_FALSE(bytes.empty());
    const auto e = error_of([&] { ci::decode_image(bytes, "dir/panic.svg"); });
    EXPECT_EQ(e.code(), ErrorCode::Corrupt) << e.what();
    EXPECT_NE(std::string(e.what()).find("image 'dir/panic.svg': the SVG renderer crashed"),
              std::string::npos)
        << e.what();
    expect_good_svg_renders();
}

// Finding 2: this rendered for minutes. It now ends at the wall limit, and the worker with it.
TEST(SvgWorker, RunawaySvgStopsAtTheWallLimit) {
    const auto bytes = read_bytes(kCorpus / "svg_turbulence_octaves_100000000.svg");
    ci::DecodeLimits limits;
    limits.svg_time_limit_ms = 1500;
    const auto start = Clock::now();
    const auto e = error_of([&] { ci::decode_image(bytes, "slow.svg", limits); });
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_EQ(e.code(), ErrorCode::Corrupt) << e.what();
    EXPECT_NE(std::string(e.what()).find("took longer than the limit of 1500 ms"),
              std::string::npos)
        << e.what();
    EXPECT_GE(seconds, 1.4);
    EXPECT_LT(seconds, 4.0);
    expect_good_svg_renders();
}

TEST(SvgWorker, PixelsAreTheInProcessRenderersOwn) {
    std::vector<fs::path> files;
    if (fs::is_directory(kTwemoji))
        for (const auto& entry : fs::directory_iterator(kTwemoji))
            if (files.size() < 40) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::vector<std::vector<uint8_t>> inputs = {{kGoodSvg.begin(), kGoodSvg.end()}};
    for (const auto& f : files) inputs.push_back(read_bytes(f));
    ci::worker::SvgRenderParams params;
    for (const auto& bytes : inputs) {
        const auto isolated = ci::decode_image(bytes, "emoji.svg");
        const auto direct = ci::worker::render_svg(bytes, params);
        ASSERT_EQ(isolated.width, direct.width);
        ASSERT_EQ(isolated.height, direct.height);
        ASSERT_TRUE(isolated.rgb == direct.rgb);
    }
    EXPECT_GE(inputs.size(), 2u);
}

TEST(SvgWorker, WorkersAreReusedAndAKilledOneIsReplaced) {
    expect_good_svg_renders();
    const auto before = ci::svg_worker_pids();
    ASSERT_FALSE(before.empty());
    expect_good_svg_renders();
    EXPECT_EQ(ci::svg_worker_pids(), before) << "an idle worker is reused, not restarted";
    for (const int pid : before) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    expect_good_svg_renders();  // the dead worker is noticed and replaced, the image unharmed
    const auto after = ci::svg_worker_pids();
    ASSERT_FALSE(after.empty());
    for (const int pid : after)
        EXPECT_EQ(std::find(before.begin(), before.end(), pid), before.end());
}

TEST(SvgWorker, MemoryLimitFailsTheImageNotTheProcess) {
#ifdef __SANITIZE_ADDRESS__
    GTEST_SKIP() << "AddressSanitizer builds do not limit the worker's address space";
#endif
    ci::DecodeLimits limits;
    limits.svg_memory_bytes = 8ull << 20;  // less than the worker's own libraries map
    const auto e = error_of([&] { ci::decode_image(as_bytes(kGoodSvg), "big.svg", limits); });
    EXPECT_TRUE(e.code() == ErrorCode::Corrupt || e.code() == ErrorCode::TooLarge) << e.what();
    EXPECT_NE(std::string(e.what()).find("memory limit"), std::string::npos) << e.what();
    expect_good_svg_renders();
}

TEST(SvgWorker, StopCancelsRendersInFlightAtOnce) {
    const auto bytes = read_bytes(kCorpus / "svg_turbulence_octaves_100000000.svg");
    auto pending = std::async(std::launch::async, [&] {
        return error_of([&] { ci::decode_image(bytes, "slow.svg"); });  // 10 s limit
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto start = Clock::now();
    ci::stop_svg_workers();
    const auto e = pending.get();
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 1.0);
    EXPECT_EQ(e.code(), ErrorCode::Unavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos) << e.what();
    expect_good_svg_renders();  // later SVGs start new workers
}

TEST(SvgWorker, MissingWorkerIsAClearErrorNeverAnInProcessRender) {
    ci::stop_svg_workers();  // no idle worker left to reuse
    ::setenv("CLIPDEX_SVG_WORKER", "/nonexistent/clipdex-svg-worker", 1);
    const auto e = error_of([] { ci::decode_image(as_bytes(kGoodSvg), "icon.svg"); });
    ::unsetenv("CLIPDEX_SVG_WORKER");
    EXPECT_EQ(e.code(), ErrorCode::Unavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("image 'icon.svg': the SVG renderer is missing: "
                                         "CLIPDEX_SVG_WORKER names "
                                         "'/nonexistent/clipdex-svg-worker'"),
              std::string::npos)
        << e.what();
    expect_good_svg_renders();
}
