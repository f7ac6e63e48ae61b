/* tdi_unet_clf_run: the classifier's config (configs/classifier.yaml), training, test accuracy
 * and feature extraction. Schema (every key optional, defaults below; unknown keys are errors):
 *   seed                                   init and batch order          default 1
 *   data.dir                               /usr/share/datasets/fashion-mnist
 *   model.c1, .c2, .c3, .hidden            widths                        8, 16, 32, 128
 *   train.epochs, .batch, .lr, .final_lr_frac (linear decay over the run), .out
 *                                          3, 64, 2e-3, 0.05, models/classifier.ckpt
 * The config hash (stored in the checkpoint) covers seed, model and train hyper-parameters. */
#ifndef TDI_UNET_CLF_RUN_H
#define TDI_UNET_CLF_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "tdi_err.h"
#include "tdi_unet_clf.h"

typedef struct tdi_clf_config {
    long seed;
    long c1, c2, c3, hidden;
    long epochs, batch;
    double lr, final_lr_frac;
    char data_dir[512], out[512];
    uint64_t hash;
} tdi_clf_config;

/* path may be NULL: defaults only. */
int tdi_clf_config_load(tdi_clf_config *c, const char *path, tdi_err *err);

/* Trains from scratch on the 60,000 training images and writes c->out atomically. Every draw
 * comes from a generator seeded by (c->seed, epoch) (tdi_unet_clf_run.c), so a run is
 * reproducible. The
 * test accuracy of the result goes to *test_acc. */
int tdi_clf_train(const tdi_clf_config *c, double *test_acc, FILE *progress, tdi_err *err);

/* Runs m over n images [n][1024] in batches of m->max_batch: features [n][hidden] (may be
 * NULL), softmax probabilities [n][10] (may be NULL). */
void tdi_clf_apply(tdi_clf *m, const float *img, size_t n, float *feat, float *prob);

/* Accuracy of m on n images with labels. */
double tdi_clf_accuracy(tdi_clf *m, const float *img, const uint8_t *label, size_t n);

#endif
