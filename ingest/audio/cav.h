// C side of package audio: a small, allocation-owning wrapper around
// libavcodec (parser + decoder) and libswresample. Go drives the control
// flow; every pointer handed to libav here is owned by this file.

#ifndef SUBTITLED_INGEST_AUDIO_CAV_H
#define SUBTITLED_INGEST_AUDIO_CAV_H

#include <stdint.h>

typedef struct sd_dec sd_dec;

// sd_frame_info describes the frame most recently received from the decoder.
typedef struct sd_frame_info {
	int nb_samples;
	int sample_rate;
	int channels;
	int64_t pts;
	int has_pts;
} sd_frame_info;

// Codec selectors, so that Go need not know AVCodecID values.
enum {
	SD_AAC = 1,
	SD_AAC_LATM = 2,
	SD_MP2 = 3,
	SD_AC3 = 4,
	SD_EAC3 = 5,
	SD_OPUS = 6,
};

void sd_quiet_logs(void);
int sd_open(sd_dec **out, int codec, int use_parser, const uint8_t *extradata,
            int extradata_size, int channels);
void sd_close(sd_dec *d);
int sd_load(sd_dec *d, const uint8_t *data, int size);
int sd_parse(sd_dec *d, int off, int flush, int *pkt_size);
void sd_packet_whole(sd_dec *d);
int sd_send(sd_dec *d, int64_t pts, int has_pts, int drain);
int sd_receive(sd_dec *d, sd_frame_info *info);
int sd_params_changed(sd_dec *d);
int sd_swr_config(sd_dec *d, int out_rate);
void sd_swr_free(sd_dec *d);
int sd_swr_live(sd_dec *d);
int sd_resample(sd_dec *d, int flush);
int sd_conceal(sd_dec *d, int nb);
const float *sd_out(sd_dec *d);
int sd_reset(sd_dec *d);
int sd_is_eagain(int err);
int sd_err_decoder_not_found(void);

#endif
