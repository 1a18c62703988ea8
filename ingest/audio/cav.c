// C side of package audio. See cav.h.

#include "cav.h"

#include <errno.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

struct sd_dec {
	const AVCodec *codec;
	AVCodecContext *ctx;
	int codec_id;
	int use_parser;
	// The parser writes stream parameters into the context it is given. It
	// gets a scratch context of its own so that it never touches the opened
	// decoder's fields.
	AVCodecContext *pctx;
	AVCodecParserContext *parser;
	AVPacket *pkt;
	AVFrame *frame;

	SwrContext *swr;
	AVChannelLayout swr_layout;
	int swr_rate;
	int swr_fmt;

	// Input copy with AV_INPUT_BUFFER_PADDING_SIZE zero bytes after it, as
	// libavcodec's bitstream readers may read past the end.
	uint8_t *in;
	int in_cap;
	int in_len;

	float *out;
	int out_cap;
};

void sd_quiet_logs(void) { av_log_set_level(AV_LOG_QUIET); }

int sd_is_eagain(int err) { return err == AVERROR(EAGAIN); }

int sd_err_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }

static enum AVCodecID codec_id_of(int codec) {
	switch (codec) {
	case SD_AAC:
		return AV_CODEC_ID_AAC;
	case SD_AAC_LATM:
		return AV_CODEC_ID_AAC_LATM;
	case SD_MP2:
		return AV_CODEC_ID_MP2;
	case SD_AC3:
		return AV_CODEC_ID_AC3;
	case SD_EAC3:
		return AV_CODEC_ID_EAC3;
	case SD_OPUS:
		return AV_CODEC_ID_OPUS;
	}
	return AV_CODEC_ID_NONE;
}

static int open_parser(sd_dec *d) {
	d->parser = av_parser_init(d->codec_id);
	if (!d->parser)
		return AVERROR_DECODER_NOT_FOUND;
	d->pctx = avcodec_alloc_context3(NULL);
	if (!d->pctx)
		return AVERROR(ENOMEM);
	d->pctx->codec_type = AVMEDIA_TYPE_AUDIO;
	d->pctx->codec_id = d->codec_id;
	return 0;
}

static void close_parser(sd_dec *d) {
	if (d->parser) {
		av_parser_close(d->parser);
		d->parser = NULL;
	}
	avcodec_free_context(&d->pctx);
}

void sd_close(sd_dec *d) {
	if (!d)
		return;
	close_parser(d);
	sd_swr_free(d);
	avcodec_free_context(&d->ctx);
	av_packet_free(&d->pkt);
	av_frame_free(&d->frame);
	av_freep(&d->in);
	av_freep(&d->out);
	av_free(d);
}

int sd_open(sd_dec **out, int codec, int use_parser, const uint8_t *extradata,
            int extradata_size, int channels) {
	int ret;
	*out = NULL;
	sd_dec *d = av_mallocz(sizeof(*d));
	if (!d)
		return AVERROR(ENOMEM);
	d->codec_id = codec_id_of(codec);
	d->use_parser = use_parser;
	d->codec = avcodec_find_decoder(d->codec_id);
	if (!d->codec) {
		ret = AVERROR_DECODER_NOT_FOUND;
		goto fail;
	}
	d->ctx = avcodec_alloc_context3(d->codec);
	d->pkt = av_packet_alloc();
	d->frame = av_frame_alloc();
	if (!d->ctx || !d->pkt || !d->frame) {
		ret = AVERROR(ENOMEM);
		goto fail;
	}
	// PTS travel through the decoder in 90 kHz ticks; with the time base
	// set, libavcodec moves frame->pts when it trims priming samples.
	d->ctx->pkt_timebase = (AVRational){1, 90000};
	d->ctx->thread_count = 1;
	// Check CRCs where the bitstream has them (AC-3, E-AC-3, MP2 with
	// protection), so that damaged frames are rejected instead of decoded
	// into noise.
	d->ctx->err_recognition |= AV_EF_CRCCHECK;
	if (channels > 0)
		av_channel_layout_default(&d->ctx->ch_layout, channels);
	if (d->codec_id == AV_CODEC_ID_OPUS)
		d->ctx->sample_rate = 48000;
	if (extradata_size > 0) {
		d->ctx->extradata = av_mallocz(extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
		if (!d->ctx->extradata) {
			ret = AVERROR(ENOMEM);
			goto fail;
		}
		memcpy(d->ctx->extradata, extradata, extradata_size);
		d->ctx->extradata_size = extradata_size;
	}
	ret = avcodec_open2(d->ctx, d->codec, NULL);
	if (ret < 0)
		goto fail;
	if (use_parser) {
		ret = open_parser(d);
		if (ret < 0)
			goto fail;
	}
	*out = d;
	return 0;
fail:
	sd_close(d);
	return ret;
}

int sd_load(sd_dec *d, const uint8_t *data, int size) {
	if (size < 0 || size > INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
		return AVERROR(EINVAL);
	int need = size + AV_INPUT_BUFFER_PADDING_SIZE;
	if (need > d->in_cap) {
		av_freep(&d->in);
		d->in_cap = 0;
		d->in = av_malloc(need);
		if (!d->in)
			return AVERROR(ENOMEM);
		d->in_cap = need;
	}
	if (size > 0)
		memcpy(d->in, data, size);
	memset(d->in + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
	d->in_len = size;
	return 0;
}

// sd_parse runs the parser over the loaded input from off (or, with flush,
// over no input, which makes it return what it has buffered). It returns the
// number of input bytes consumed; *pkt_size > 0 when an access unit is ready
// in d->pkt for sd_send.
int sd_parse(sd_dec *d, int off, int flush, int *pkt_size) {
	uint8_t *out = NULL;
	int out_size = 0;
	const uint8_t *buf = NULL;
	int size = 0;
	*pkt_size = 0;
	if (!d->parser)
		return AVERROR(EINVAL);
	if (!flush) {
		if (off < 0 || off > d->in_len)
			return AVERROR(EINVAL);
		buf = d->in + off;
		size = d->in_len - off;
		if (size == 0)
			return 0;
	}
	int n = av_parser_parse2(d->parser, d->pctx, &out, &out_size, buf, size,
	                         AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
	if (n < 0)
		return n;
	if (n > size)
		n = size;
	d->pkt->data = out_size > 0 ? out : NULL;
	d->pkt->size = out_size > 0 ? out_size : 0;
	*pkt_size = d->pkt->size;
	return n;
}

// sd_packet_whole makes the whole loaded input one packet (Opus).
void sd_packet_whole(sd_dec *d) {
	d->pkt->data = d->in;
	d->pkt->size = d->in_len;
}

// sd_send hands the pending packet (or, with drain, end of stream) to the
// decoder. The packet is not reference counted, so libavcodec copies it.
int sd_send(sd_dec *d, int64_t pts, int has_pts, int drain) {
	int ret;
	if (drain)
		return avcodec_send_packet(d->ctx, NULL);
	if (!d->pkt->data || d->pkt->size <= 0)
		return 0;
	d->pkt->pts = has_pts ? pts : AV_NOPTS_VALUE;
	d->pkt->dts = AV_NOPTS_VALUE;
	ret = avcodec_send_packet(d->ctx, d->pkt);
	d->pkt->data = NULL;
	d->pkt->size = 0;
	return ret;
}

// sd_receive fetches the next decoded frame: 0 with *info filled, 1 when the
// decoder needs more input (or is drained), or a negative AVERROR.
int sd_receive(sd_dec *d, sd_frame_info *info) {
	int ret = avcodec_receive_frame(d->ctx, d->frame);
	if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
		return 1;
	if (ret < 0)
		return ret;
	info->nb_samples = d->frame->nb_samples;
	info->sample_rate = d->frame->sample_rate;
	info->channels = d->frame->ch_layout.nb_channels;
	info->has_pts = d->frame->pts != AV_NOPTS_VALUE;
	info->pts = info->has_pts ? d->frame->pts : 0;
	return 0;
}

// frame_layout is the current frame's layout in native order, falling back
// to the default layout for its channel count.
static int frame_layout(sd_dec *d, AVChannelLayout *l) {
	const AVChannelLayout *fl = &d->frame->ch_layout;
	if (fl->order == AV_CHANNEL_ORDER_NATIVE && fl->nb_channels > 0)
		return av_channel_layout_copy(l, fl);
	av_channel_layout_default(l, fl->nb_channels);
	return 0;
}

void sd_swr_free(sd_dec *d) {
	swr_free(&d->swr);
	av_channel_layout_uninit(&d->swr_layout);
	d->swr_rate = 0;
	d->swr_fmt = -1;
}

int sd_swr_live(sd_dec *d) { return d->swr != NULL; }

// sd_params_changed reports whether the current frame needs a resampler
// other than the one configured (or there is none).
int sd_params_changed(sd_dec *d) {
	AVChannelLayout l = {0};
	int changed;
	if (!d->swr)
		return 1;
	if (frame_layout(d, &l) < 0)
		return 1;
	changed = d->frame->sample_rate != d->swr_rate || d->frame->format != d->swr_fmt ||
	          av_channel_layout_compare(&l, &d->swr_layout) != 0;
	av_channel_layout_uninit(&l);
	return changed;
}

// sd_swr_config replaces the resampler with one for the current frame's
// parameters, producing mono float at out_rate. Downmix coefficients are
// normalised so that the output of full-scale input stays within [-1, 1].
int sd_swr_config(sd_dec *d, int out_rate) {
	AVChannelLayout in = {0};
	AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
	int ret;
	sd_swr_free(d);
	ret = frame_layout(d, &in);
	if (ret < 0)
		return ret;
	ret = swr_alloc_set_opts2(&d->swr, &mono, AV_SAMPLE_FMT_FLT, out_rate, &in,
	                          d->frame->format, d->frame->sample_rate, 0, NULL);
	if (ret >= 0)
		ret = av_opt_set_double(d->swr, "rematrix_maxval", 1.0, 0);
	if (ret >= 0)
		ret = swr_init(d->swr);
	if (ret < 0) {
		av_channel_layout_uninit(&in);
		sd_swr_free(d);
		return ret;
	}
	d->swr_layout = in;
	d->swr_rate = d->frame->sample_rate;
	d->swr_fmt = d->frame->format;
	return 0;
}

// sd_resample converts the current frame (or, with flush, what the resampler
// still holds) into sd_out. It returns the number of samples written.
int sd_resample(sd_dec *d, int flush) {
	int in_n = flush ? 0 : d->frame->nb_samples;
	int cap, got;
	uint8_t *outp[1];
	if (!d->swr)
		return AVERROR(EINVAL);
	cap = swr_get_out_samples(d->swr, in_n);
	if (cap < 0)
		return cap;
	cap += 32;
	if (cap > d->out_cap) {
		av_freep(&d->out);
		d->out_cap = 0;
		d->out = av_malloc_array(cap, sizeof(float));
		if (!d->out)
			return AVERROR(ENOMEM);
		d->out_cap = cap;
	}
	outp[0] = (uint8_t *)d->out;
	if (flush)
		got = swr_convert(d->swr, outp, d->out_cap, NULL, 0);
	else
		got = swr_convert(d->swr, outp, d->out_cap,
		                  (const uint8_t **)d->frame->extended_data, in_n);
	return got;
}

// sd_conceal feeds nb samples of silence at the current input parameters
// into the resampler; they come out with the next sd_resample.
int sd_conceal(sd_dec *d, int nb) {
	if (!d->swr || nb <= 0)
		return AVERROR(EINVAL);
	return swr_inject_silence(d->swr, nb);
}

const float *sd_out(sd_dec *d) { return d->out; }

// sd_reset forgets all buffered state: the decoder is flushed, the parser
// recreated (dropping any partial access unit) and the resampler freed.
int sd_reset(sd_dec *d) {
	avcodec_flush_buffers(d->ctx);
	av_frame_unref(d->frame);
	d->pkt->data = NULL;
	d->pkt->size = 0;
	sd_swr_free(d);
	if (d->use_parser) {
		close_parser(d);
		return open_parser(d);
	}
	return 0;
}
