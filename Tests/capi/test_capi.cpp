// C ABI from C++17: the header compiles cleanly as C++ (-Wall -Wextra -Werror -pedantic), and
// the RAII wrappers a C++ trainer would write around it behave: handles freed exactly once,
// errors become exceptions carrying the library's message.

#include "grlhf.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace grlhf {

struct Error : std::runtime_error {
    grlhf_status status;
    Error(grlhf_status s, const std::string &message) : std::runtime_error(message), status(s) {}
};

// Throws when a call fails; the message is the thread's last error, copied at once.
void check(grlhf_status status) {
    if (status != GRLHF_OK) throw Error(status, grlhf_last_error());
}

struct TensorFree {
    void operator()(grlhf_tensor *t) const noexcept { grlhf_tensor_free(t); }
};
struct SetFree {
    void operator()(grlhf_tensor_set *s) const noexcept { grlhf_tensor_set_free(s); }
};
using Tensor = std::unique_ptr<grlhf_tensor, TensorFree>;
using TensorSet = std::unique_ptr<grlhf_tensor_set, SetFree>;

Tensor make_tensor(const std::vector<float> &values, const std::vector<int64_t> &shape) {
    grlhf_tensor *raw = nullptr;
    check(grlhf_tensor_create(values.empty() ? nullptr : values.data(), shape.data(),
                              static_cast<int32_t>(shape.size()), &raw));
    return Tensor(raw);
}

std::vector<int64_t> shape_of(const grlhf_tensor *t) {
    int32_t rank = 0;
    check(grlhf_tensor_rank(t, &rank));
    std::vector<int64_t> dims(static_cast<size_t>(rank));
    check(grlhf_tensor_shape(t, dims.data(), rank));
    return dims;
}

std::vector<float> values_of(const grlhf_tensor *t) {
    int64_t count = 0;
    check(grlhf_tensor_count(t, &count));
    std::vector<float> values(static_cast<size_t>(count));
    check(grlhf_tensor_copy_to(t, values.data(), count));
    return values;
}

TensorSet make_set() {
    grlhf_tensor_set *raw = nullptr;
    check(grlhf_tensor_set_create(&raw));
    return TensorSet(raw);
}

Tensor get(const grlhf_tensor_set *set, const std::string &name) {
    grlhf_tensor *raw = nullptr;
    check(grlhf_tensor_set_get(set, name.c_str(), &raw));
    return Tensor(raw);
}

}  // namespace grlhf

namespace {

int failures = 0;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::printf("    FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                 \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

void test_version() {
    CHECK(grlhf_abi_version() == GRLHF_ABI_VERSION);
    std::string expected = std::to_string(GRLHF_VERSION_MAJOR) + "." +
                           std::to_string(GRLHF_VERSION_MINOR) + "." +
                           std::to_string(GRLHF_VERSION_PATCH);
    CHECK(expected == grlhf_version());
    CHECK(std::string(grlhf_status_string(GRLHF_ERR_MISUSE)) != "unknown status");
}

void test_tensor_raii() {
    int64_t before = grlhf_live_handles();
    {
        auto t = grlhf::make_tensor({1, 2, 3, 4, 5, 6}, {3, 2});
        CHECK(grlhf_live_handles() == before + 1);
        CHECK((grlhf::shape_of(t.get()) == std::vector<int64_t>{3, 2}));
        CHECK((grlhf::values_of(t.get()) == std::vector<float>{1, 2, 3, 4, 5, 6}));
        const float *data = nullptr;
        grlhf::check(grlhf_tensor_data(t.get(), &data));
        CHECK(data != nullptr && data[5] == 6.0f);
        auto zeros = grlhf::make_tensor({}, {2});
        CHECK((grlhf::values_of(zeros.get()) == std::vector<float>{0, 0}));
    }
    CHECK(grlhf_live_handles() == before);
}

void test_errors_throw_with_message() {
    bool threw = false;
    try {
        grlhf::make_tensor({}, {2, -3});
    } catch (const grlhf::Error &e) {
        threw = true;
        CHECK(e.status == GRLHF_ERR_INVALID_ARGUMENT);
        CHECK(std::strstr(e.what(), "negative") != nullptr);
    }
    CHECK(threw);

    threw = false;
    auto set = grlhf::make_set();
    try {
        grlhf::get(set.get(), "absent");
    } catch (const grlhf::Error &e) {
        threw = true;
        CHECK(e.status == GRLHF_ERR_INVALID_ARGUMENT);
        CHECK(std::strstr(e.what(), "absent") != nullptr);
    }
    CHECK(threw);

    // A wrong-type handle is reported, not dereferenced.
    int32_t rank = 0;
    auto *not_a_tensor = reinterpret_cast<const grlhf_tensor *>(set.get());
    CHECK(grlhf_tensor_rank(not_a_tensor, &rank) == GRLHF_ERR_MISUSE);
    CHECK(std::strlen(grlhf_last_error()) > 0);
}

void test_set_and_safetensors() {
    int64_t before = grlhf_live_handles();
    char path[] = "/tmp/grlhf_capi_cpp_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    {
        auto set = grlhf::make_set();
        auto w = grlhf::make_tensor({0.5f, -1.5f, 2.5f, 1e-3f}, {2, 2});
        auto b = grlhf::make_tensor({3.0f}, {1});
        grlhf::check(grlhf_tensor_set_add(set.get(), "w", w.get()));
        grlhf::check(grlhf_tensor_set_add(set.get(), "b", b.get()));
        grlhf::check(grlhf_safetensors_save(path, set.get()));

        grlhf_tensor_set *raw = nullptr;
        grlhf::check(grlhf_safetensors_load(path, &raw));
        grlhf::TensorSet loaded(raw);
        int64_t count = 0;
        grlhf::check(grlhf_tensor_set_count(loaded.get(), &count));
        CHECK(count == 2);
        std::vector<std::string> names;
        for (int64_t i = 0; i < count; i++) {
            const char *name = nullptr;
            grlhf::check(grlhf_tensor_set_name(loaded.get(), i, &name));
            names.emplace_back(name);
        }
        CHECK((names == std::vector<std::string>{"w", "b"}));
        CHECK(grlhf::values_of(grlhf::get(loaded.get(), "w").get()) == grlhf::values_of(w.get()));
        CHECK((grlhf::shape_of(grlhf::get(loaded.get(), "w").get()) == std::vector<int64_t>{2, 2}));
        CHECK(grlhf::values_of(grlhf::get(loaded.get(), "b").get()) == grlhf::values_of(b.get()));
    }
    std::remove(path);
    CHECK(grlhf_live_handles() == before);
}

void test_threads_setting() {
    int32_t blas = 0, compute = 0;
    grlhf::check(grlhf_set_threads(1, 2));
    grlhf::check(grlhf_get_threads(&blas, &compute));
    CHECK(blas == 1 && compute == 2);
    CHECK(grlhf_set_threads(0, 0) == GRLHF_ERR_INVALID_ARGUMENT);
    grlhf::check(grlhf_set_threads(1, 1));
}

}  // namespace

int main() {
    const std::pair<const char *, std::function<void()>> tests[] = {
        {"version", test_version},
        {"tensor_raii", test_tensor_raii},
        {"errors_throw_with_message", test_errors_throw_with_message},
        {"set_and_safetensors", test_set_and_safetensors},
        {"threads_setting", test_threads_setting},
    };
    int passed = 0, failed = 0;
    for (const auto &test : tests) {
        int before = failures;
        try {
            test.second();
        } catch (const std::exception &e) {
            std::printf("    FAIL: unexpected exception: %s\n", e.what());
            failures++;
        }
        bool ok = failures == before;
        std::printf("%s %s\n", ok ? "ok  " : "FAIL", test.first);
        (ok ? passed : failed)++;
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
