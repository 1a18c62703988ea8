#ifndef SUBTITLED_INGEST_AUDIO_RESAMPLE_H
#define SUBTITLED_INGEST_AUDIO_RESAMPLE_H

typedef struct SwrContext SwrContext;

int sd_rs_open(SwrContext **out, int in_rate, int channels, int out_rate);
void sd_rs_close(SwrContext *s);
int sd_rs_out_max(SwrContext *s, int in_samples);
int sd_rs_convert(SwrContext *s, float *out, int out_cap, const float *in, int in_samples);

#endif
