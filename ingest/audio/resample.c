// C side of Resampler: interleaved float PCM at any rate and channel count
// to 16 kHz mono float, through libswresample.

#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>

#include "resample.h"

int sd_rs_open(SwrContext **out, int in_rate, int channels, int out_rate) {
	AVChannelLayout in_layout, out_layout = AV_CHANNEL_LAYOUT_MONO;
	av_channel_layout_default(&in_layout, channels);
	SwrContext *s = NULL;
	int rc = swr_alloc_set_opts2(&s, &out_layout, AV_SAMPLE_FMT_FLT, out_rate,
	                             &in_layout, AV_SAMPLE_FMT_FLT, in_rate, 0, NULL);
	av_channel_layout_uninit(&in_layout);
	if (rc < 0) {
		return rc;
	}
	if ((rc = swr_init(s)) < 0) {
		swr_free(&s);
		return rc;
	}
	*out = s;
	return 0;
}

void sd_rs_close(SwrContext *s) { swr_free(&s); }

int sd_rs_out_max(SwrContext *s, int in_samples) { return swr_get_out_samples(s, in_samples); }

int sd_rs_convert(SwrContext *s, float *out, int out_cap, const float *in, int in_samples) {
	uint8_t *o[1] = {(uint8_t *)out};
	const uint8_t *i[1] = {(const uint8_t *)in};
	return swr_convert(s, o, out_cap, in ? i : NULL, in_samples);
}
