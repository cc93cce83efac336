from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0002_channel_display_made_by_worker'),
    ]

    operations = [
        migrations.AddField(
            model_name='image',
            name='pixel_size_x',
            field=models.FloatField(blank=True, help_text='micrometres per pixel', null=True),
        ),
        migrations.AddField(
            model_name='image',
            name='pixel_size_y',
            field=models.FloatField(blank=True, help_text='micrometres per pixel', null=True),
        ),
    ]
