/*
 * The vector layer's unit tests (vec_isa.c): every SIMD entry of src/isa_list.h that this
 * build compiled and this CPU runs; the others are printed as skipped.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "dispatch.h"

#define DECLARE(name, NAME, x3, arch, ...) \
    NORM_IF(NORM_AND(NORM_SIMD_##arch, NORM_HAVE_##NAME), int norm_vec_test_##name(void);)
NORM_ISA_LIST(DECLARE, DECLARE)

typedef struct entry {
    const char *name;
    int (*test)(void); /* NULL: not compiled in this build */
} entry;

#define ENTRY(name, NAME, x3, arch, ...) \
    NORM_IF(NORM_SIMD_##arch, { #name, NORM_IF_ELSE(NORM_HAVE_##NAME, norm_vec_test_##name, NULL) },)
static const entry entries[] = { NORM_ISA_LIST(ENTRY, ENTRY) { NULL, NULL } };

START_TEST(test_primitives)
{
    const entry *e = &entries[_i];
    if (!e->test) {
        printf("vec %-11s skipped: not compiled in\n", e->name);
        return;
    }
    if (!norm_variant_supported(e->name)) {
        printf("vec %-11s skipped: this CPU cannot run it\n", e->name);
        return;
    }
    int failures = e->test();
    printf("vec %-11s %s\n", e->name, failures ? "FAILED" : "every primitive as its scalar meaning");
    ck_assert_msg(failures == 0, "%s: %d primitive checks failed", e->name, failures);
}
END_TEST

int main(void)
{
    int n = (int)(sizeof entries / sizeof entries[0]) - 1;
    Suite *s = suite_create("vec");
    TCase *tc = tcase_create("primitives");
    tcase_add_loop_test(tc, test_primitives, 0, n);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (n == 0)
        printf("vec: no SIMD entry for this architecture\n");
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
