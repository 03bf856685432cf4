"""The financing white list (白名单): recommenders' candidates, listed with the companies' consent.

- :mod:`.store`: the recommendations (SQLite, who recommended whom, uploads and their counts);
- :mod:`.registration`: industry and district of each company from the catalogue's licences;
- :mod:`.service`: ``WhitelistService`` (recommenders upload, banks query; both audited).
"""
