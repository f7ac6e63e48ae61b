/* test_json: common/tdi_json (the JSON writer every tdi output goes through), read back with
 * jansson: strings with quotes, backslashes and control characters round-trip, NaN and Inf
 * become null, reals come back bit for bit, counts stay integers, the layout's outer levels
 * hold one member per line, and a failed write names the file and leaves nothing behind. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "tdi_json.h"
#include "tdi_test.h"

#define SCR "build/test-json"

static const char *const nasty = "p\"q\\r/\n\t\x01 \xc3\xa9 '; system('touch X') ; x='";

/* a document with every kind of member; NULL when building failed */
static tdi_json *build(void)
{
    tdi_json *root = tdi_json_object();
    const tdi_json_kv kv[] = {
        TDI_JS("name", nasty), TDI_JR("nan", NAN), TDI_JR("inf", INFINITY),
        TDI_JR("minus_inf", -INFINITY), TDI_JR("tenth", 0.1),
        TDI_JR("tiny", 4.9406564584124654e-324), TDI_JR("integral", 2.0),
        TDI_JC("count", 4096.0), TDI_JC("big_count", 1e300),
        TDI_JI("int", -9007199254740993LL), TDI_JB("yes", 7), TDI_JNULL("none")};
    const tdi_json_kv row[] = {TDI_JR("cos_paper", 0.98297482738), TDI_JR("r2", NAN)};
    const tdi_json_kv arr[] = {TDI_JR(NULL, 1.5), TDI_JR(NULL, NAN), TDI_JS(NULL, "a\"b")};
    tdi_json *rows = tdi_json_add_object(root, "rows");
    int rc = tdi_json_set(root, kv, TDI_JSON_N(kv)) ||
             tdi_json_set(tdi_json_add_object(rows, "sde"), row, TDI_JSON_N(row)) ||
             tdi_json_set(tdi_json_add_object(rows, "spice"), row, TDI_JSON_N(row)) ||
             tdi_json_push(tdi_json_add_array(root, "list"), arr, TDI_JSON_N(arr));
    if (rc) {
        tdi_json_free(root);
        return NULL;
    }
    return root;
}

static void check_values(const char *js)
{
    TDI_CHECK(tdi_test_json_str_is(js, "name", nasty),
              "a name with a quote, a backslash, control characters, UTF-8 round-trips");
    const char *nul[] = {"nan", "inf", "minus_inf", "none", "rows.sde.r2", "list.1"};
    for (size_t i = 0; i < 6; i++) {
        char nm[80];
        snprintf(nm, sizeof nm, "%s is null (present, not a number)", nul[i]);
        TDI_CHECK(tdi_test_json_has(js, nul[i]) && isnan(tdi_test_json_num(js, nul[i])), nm);
    }
    tdi_check_near(tdi_test_json_num(js, "tenth"), 0.1, 0, "0.1 comes back bit for bit");
    tdi_check_near(tdi_test_json_num(js, "tiny"), 4.9406564584124654e-324, 0,
                   "the smallest subnormal comes back bit for bit");
    tdi_check_near(tdi_test_json_num(js, "rows.spice.cos_paper"), 0.98297482738, 0,
                   "a nested metric comes back bit for bit");
    tdi_check_near(tdi_test_json_num(js, "big_count"), 1e300, 0, "a count above 2^53 as a real");
    TDI_CHECK(tdi_test_json_str_is(js, "list.2", "a\"b"), "array string with a quote");
    json_t *doc, *v = tdi_test_json_at(js, "count", &doc);
    TDI_CHECK(json_is_integer(v) && json_integer_value(v) == 4096, "a count is an integer");
    v = json_object_get(doc, "int");
    TDI_CHECK(json_is_integer(v) && json_integer_value(v) == -9007199254740993LL,
              "a 64-bit integer is exact");
    v = json_object_get(doc, "yes");
    TDI_CHECK(json_is_true(v), "a nonzero bool is true");
    json_decref(doc);
}

/* the layout: expand 2 puts root members and the rows one per line, a row on its own line */
static void check_layout(const char *js)
{
    TDI_CHECK(strncmp(js, "{\n  \"rows\": {\n", 13) == 0, "root members one per line, 2 spaces");
    TDI_CHECK(strstr(js, "\n    \"sde\": {\"cos_paper\": 0.98297482737999997, \"r2\": null},\n") !=
                  NULL, "a row sits on one line, jansson's 17-digit real format");
    TDI_CHECK(strstr(js, "\n  \"nan\": null,\n") != NULL, "NaN written as null");
    TDI_CHECK(strstr(js, "\"integral\": 2.0,") != NULL, "an integral real keeps its \".0\"");
    size_t n = strlen(js);
    TDI_CHECK(n > 0 && js[n - 1] == '\n', "ends with a newline");
}

static void check_write(const tdi_json *root)
{
    tdi_err e = {0};
    const char *p = SCR "/out.json";
    tdi_check_ok(tdi_json_write(p, root, 2, &e), &e, "tdi_json_write");
    char *js = tdi_test_slurp(p);
    check_values(js);
    free(js);
    int rc = tdi_json_write(SCR "/no-such-dir/out.json", root, 2, &e);
    TDI_CHECK(rc != 0 && strstr(e.msg, "no-such-dir/out.json"), "a failed write names the file");
    TDI_CHECK(access(SCR "/no-such-dir", F_OK) != 0, "... and creates nothing");
    rc = tdi_json_write(SCR "/full.json", NULL, 2, &e);
    TDI_CHECK(rc == TDI_ENOMEM && strstr(e.msg, "full.json"), "no document: an error, no file");
    TDI_CHECK(access(SCR "/full.json", F_OK) != 0, "... and no file");
}

/* a string that is not UTF-8 cannot be a JSON string: refused, not written half */
static void check_refusals(void)
{
    tdi_json *root = tdi_json_object();
    const tdi_json_kv bad[] = {TDI_JS("name", "\xff\xfe")};
    TDI_CHECK(tdi_json_set(root, bad, 1) == TDI_ENOMEM, "invalid UTF-8 string refused");
    TDI_CHECK(tdi_json_set(NULL, bad, 1) == TDI_ENOMEM, "a NULL object (failed add) refused");
    TDI_CHECK(tdi_json_add_object(NULL, "x") == NULL, "a child of NULL is NULL");
    tdi_json_free(root);
}

int main(void)
{
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    tdi_json *root = build();
    if (!TDI_CHECK(root != NULL, "document built"))
        TDI_TEST_END();
    char *js = NULL;
    tdi_err e = {0};
    if (tdi_check_ok(tdi_json_dump(root, 2, &js, "test", &e), &e, "tdi_json_dump")) {
        printf("%s", js);
        check_values(js);
        check_layout(js);
    }
    free(js);
    check_write(root);
    tdi_json_free(root);
    check_refusals();
    TDI_TEST_END();
}
